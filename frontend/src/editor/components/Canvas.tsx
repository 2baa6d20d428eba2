import {
  Background,
  Controls,
  type FitViewOptions,
  type IsValidConnection,
  MiniMap,
  ReactFlow,
  type Connection,
  useNodesInitialized,
  useReactFlow,
} from "@xyflow/react";
import { type DragEvent, useCallback, useEffect, useRef, useState } from "react";

import { connectionProblem } from "../model/edits";
import type { LayerFlowNode, ShapeFlowEdge } from "../model/flow";
import { useGraph } from "../stores/graphStore";
import { useUi } from "../stores/uiStore";
import { LayerNode } from "./LayerNode";
import { ShapeEdge } from "./ShapeEdge";

/** The MIME type a palette entry carries when dragged onto the canvas. */
export const LAYER_DRAG_TYPE = "application/x-vmb-layer";

const nodeTypes = { layer: LayerNode };
const edgeTypes = { shape: ShapeEdge };
const defaultEdgeOptions = { type: "shape" };

// A big graph opens on its inputs at a readable zoom (the minimap shows the whole), not as dots.
const BIG_GRAPH = 60;

function openingView(nodes: readonly LayerFlowNode[]): FitViewOptions {
  if (nodes.length <= BIG_GRAPH) return { maxZoom: 1.2 };
  const leftmost = [...nodes].sort((a, b) => a.position.x - b.position.x).slice(0, 4);
  return { maxZoom: 0.9, nodes: leftmost.map((n) => ({ id: n.id })) };
}

function minimapColor(node: LayerFlowNode): string {
  return node.selected ? "#4f46e5" : "#9aa3bd";
}

/**
 * The React Flow canvas: nodes and edges from the graph store, drops from the palette.
 * `layoutOnOpen`: lay the graph out once, when its nodes have been measured (a template or an
 * import, whose nodes come without positions); the next saved version keeps the positions.
 */
export function Canvas({ layoutOnOpen = false }: { layoutOnOpen?: boolean }) {
  const nodes = useGraph((s) => s.nodes);
  const edges = useGraph((s) => s.edges);
  const onNodesChange = useGraph((s) => s.onNodesChange);
  const onEdgesChange = useGraph((s) => s.onEdgesChange);
  const beginMove = useGraph((s) => s.beginMove);
  const endMove = useGraph((s) => s.endMove);
  const { screenToFlowPosition, fitView } = useReactFlow();
  const measured = useNodesInitialized();
  const laidOut = useRef(!layoutOnOpen);
  // Fit an opened graph; an empty canvas keeps its viewport, so the first drop lands where it fell.
  const [fitOnOpen] = useState(() => nodes.length > 0);
  const [fitViewOptions] = useState(() => openingView(nodes));

  useEffect(() => {
    if (!measured || laidOut.current) return;
    laidOut.current = true;
    useGraph.getState().layoutQuietly();
    window.requestAnimationFrame(() => void fitView(openingView(useGraph.getState().nodes)));
  }, [measured, fitView]);

  const isValidConnection = useCallback<IsValidConnection<ShapeFlowEdge>>(
    (connection) => connectionProblem(useGraph.getState(), connection) === null,
    [],
  );

  const onConnect = useCallback((connection: Connection) => {
    const problem = connectionProblem(useGraph.getState(), connection);
    if (problem) useUi.getState().notify(problem);
    else useGraph.getState().connect(connection);
  }, []);

  const onDragOver = useCallback((event: DragEvent) => {
    if (!event.dataTransfer.types.includes(LAYER_DRAG_TYPE)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  }, []);

  const onDrop = useCallback(
    (event: DragEvent) => {
      const type = event.dataTransfer.getData(LAYER_DRAG_TYPE);
      if (!type) return;
      event.preventDefault();
      const point = screenToFlowPosition({ x: event.clientX, y: event.clientY });
      useGraph.getState().addLayer(type, { x: Math.round(point.x - 90), y: Math.round(point.y - 30) });
    },
    [screenToFlowPosition],
  );

  return (
    <div className="canvas" data-testid="canvas" onDragOver={onDragOver} onDrop={onDrop}>
      <ReactFlow<LayerFlowNode, ShapeFlowEdge>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        edgeTypes={edgeTypes}
        defaultEdgeOptions={defaultEdgeOptions}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        isValidConnection={isValidConnection}
        onNodeDragStart={beginMove}
        onNodeDragStop={endMove}
        onSelectionDragStart={beginMove}
        onSelectionDragStop={endMove}
        deleteKeyCode={null}
        fitView={fitOnOpen}
        fitViewOptions={fitViewOptions}
        minZoom={0.05}
        maxZoom={2.5}
        onlyRenderVisibleElements={nodes.length > 120}
        aria-label="Model canvas"
      >
        <Background gap={20} />
        <Controls aria-label="Zoom controls" />
        <MiniMap<LayerFlowNode> pannable zoomable nodeColor={minimapColor} ariaLabel="Minimap" />
      </ReactFlow>
      {nodes.length === 0 && (
        <div className="canvas__empty" role="note">
          <p>
            <strong>An empty canvas.</strong> Drag a layer from the palette, or double-click one to add it. Start with an
            input such as <code>image_input</code>.
          </p>
        </div>
      )}
    </div>
  );
}
