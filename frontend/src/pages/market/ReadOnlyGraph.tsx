import { Background, Controls, type FitViewOptions, MiniMap, ReactFlow, ReactFlowProvider } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { memo, useEffect, useMemo } from "react";

import { validateDocument } from "../../api/validation";
import { LayerNode } from "../../editor/components/LayerNode";
import { ShapeEdge } from "../../editor/components/ShapeEdge";
import type { GraphDocument } from "../../editor/model/document";
import { type LayerFlowNode, type ShapeFlowEdge, fromDocument } from "../../editor/model/flow";
import { layoutPositions, needsLayout } from "../../editor/model/layout";
import { useLayers } from "../../editor/stores/layersStore";
import { useValidation } from "../../editor/stores/validationStore";
import "../../editor/editor.css";

const nodeTypes = { layer: LayerNode };
const edgeTypes = { shape: ShapeEdge };
// A long graph opens on its inputs at a readable zoom (the minimap shows the whole), not as dots.
const READABLE = 6;
const MINIMAP_NODE = "#9aa3bd";
const MINIMAP_SIZE = { width: 150, height: 90 };

function openingView(nodes: readonly LayerFlowNode[]): FitViewOptions {
  if (nodes.length <= READABLE) return { maxZoom: 1.1 };
  // graphs are laid out top to bottom: open on the first rows, where the inputs are
  const topmost = [...nodes].sort((a, b) => a.position.y - b.position.y || a.position.x - b.position.x).slice(0, READABLE);
  return { maxZoom: 0.9, nodes: topmost.map((node) => ({ id: node.id })) };
}

/** A document as React Flow nodes and edges, laid out when it was never placed. */
export function flowOf(document: GraphDocument): { nodes: LayerFlowNode[]; edges: ShapeFlowEdge[] } {
  const { nodes, edges } = fromDocument(document);
  if (!needsLayout(document.nodes)) return { nodes, edges };
  const positions = layoutPositions(nodes, edges);
  return { nodes: nodes.map((node) => ({ ...node, position: positions.get(node.id) ?? node.position })), edges };
}

/**
 * A published graph drawn with the editor's nodes and edges, read-only: no palette, no dragging,
 * no connecting. Its shapes come from one validation of the document on the server.
 */
export const ReadOnlyGraph = memo(function ReadOnlyGraph({ document }: { document: GraphDocument }) {
  const { nodes, edges } = useMemo(() => flowOf(document), [document]);
  const fitViewOptions = useMemo(() => openingView(nodes), [nodes]);

  useEffect(() => {
    void useLayers.getState().load();
    const controller = new AbortController();
    const validation = useValidation.getState();
    validation.reset();
    validateDocument(document, 1, controller.signal).then(
      (report) => !controller.signal.aborted && useValidation.getState().setReport(report),
      () => undefined, // the graph still draws; only the shapes are missing
    );
    return () => {
      controller.abort();
      useValidation.getState().reset();
    };
  }, [document]);

  return (
    <div className="card market-graph" data-testid="market-graph" aria-label="Graph (read-only)" role="figure" title="Pan and zoom to look around; fork the entry to edit it.">
      <ReactFlowProvider>
        <ReactFlow<LayerFlowNode, ShapeFlowEdge>
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          edgeTypes={edgeTypes}
          nodesDraggable={false}
          nodesConnectable={false}
          elementsSelectable={false}
          edgesFocusable={false}
          nodesFocusable={false}
          deleteKeyCode={null}
          fitView
          fitViewOptions={fitViewOptions}
          minZoom={0.05}
          maxZoom={2}
        >
          <Background gap={20} />
          <Controls showInteractive={false} aria-label="Zoom controls" />
          {nodes.length > READABLE && <MiniMap pannable zoomable nodeColor={MINIMAP_NODE} style={MINIMAP_SIZE} ariaLabel="Minimap" />}
        </ReactFlow>
      </ReactFlowProvider>
    </div>
  );
});
