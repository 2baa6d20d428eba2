import {
  Background,
  Controls,
  type EdgeChange,
  type IsValidConnection,
  MiniMap,
  type NodeChange,
  ReactFlow,
  type Connection,
  useNodesInitialized,
  useReactFlow,
} from "@xyflow/react";
import { type DragEvent, useCallback, useEffect, useMemo, useRef } from "react";

import { useReadableFit } from "../hooks/useReadableFit";
import { connectionProblem } from "../model/edits";
import type { LayerFlowNode, ShapeFlowEdge } from "../model/flow";
import { type CanvasNode, FRAME_PREFIX, type FoldedView, GROUP_PREFIX, foldedAncestor, foldedView } from "../model/groups";
import { minimapColor } from "../model/minimap";
import { useGraph } from "../stores/graphStore";
import { useGroups } from "../stores/groupsStore";
import { useRunOverlay } from "../stores/runOverlayStore";
import { useUi } from "../stores/uiStore";
import { useValidation } from "../stores/validationStore";
import { GroupFrame, GroupNode } from "./GroupNode";
import { LayerNode } from "./LayerNode";
import { ShapeEdge } from "./ShapeEdge";

/** The MIME type a palette entry carries when dragged onto the canvas. */
export const LAYER_DRAG_TYPE = "application/x-vmb-layer";

const nodeTypes = { layer: LayerNode, fold: GroupNode, groupFrame: GroupFrame };
const edgeTypes = { shape: ShapeEdge };
const defaultEdgeOptions = { type: "shape" };

const isLayerId = (id: string) => !id.startsWith(GROUP_PREFIX) && !id.startsWith(FRAME_PREFIX);

/**
 * The React Flow canvas: nodes and edges from the graph store, with repeated blocks folded
 * (model/groups.ts), and drops from the palette. `layoutOnOpen`: lay out once, in the worker,
 * when its nodes have been measured (an older graph saved without positions).
 */
export function Canvas({ layoutOnOpen = false }: { layoutOnOpen?: boolean }) {
  const nodes = useGraph((s) => s.nodes);
  const edges = useGraph((s) => s.edges);
  const loads = useGraph((s) => s.loads);
  const layoutRunning = useGraph((s) => s.layoutRunning);
  const groups = useGroups((s) => s.groups);
  const collapsed = useGroups((s) => s.collapsed);
  const beginMove = useGraph((s) => s.beginMove);
  const endMove = useGraph((s) => s.endMove);
  const { screenToFlowPosition } = useReactFlow();
  const fit = useReadableFit();
  const measured = useNodesInitialized();
  const laidOut = useRef(!layoutOnOpen);
  const validated = useValidation((s) => s.nodes);
  const runLayers = useRunOverlay((s) => s.layers);

  // Each view reuses the previous one's unchanged objects: an edit re-renders only what it changed.
  const previousView = useRef<FoldedView | null>(null);
  const view = useMemo(() => {
    const next = foldedView(nodes, edges, groups, collapsed, previousView.current);
    previousView.current = next;
    return next;
  }, [nodes, edges, groups, collapsed]);
  const shiftRef = useRef(view.shift);
  shiftRef.current = view.shift;

  // A graph opens (its groups were folded as it loaded: groupsStore): the view fits. An empty
  // canvas keeps its viewport, so the first drop lands where it fell.
  useEffect(() => {
    if (useGraph.getState().nodes.length > 0) window.requestAnimationFrame(() => fit());
  }, [loads, fit]);

  useEffect(() => {
    if (!measured || laidOut.current) return;
    laidOut.current = true;
    void useGraph.getState().layoutQuietly().then(() => window.requestAnimationFrame(() => fit()));
  }, [measured, fit]);

  // A layer selected from elsewhere (the issue list) inside a folded group: unfold it.
  useEffect(() => {
    if (collapsed.size === 0) return;
    const hidden = nodes.filter((n) => n.selected && foldedAncestor(groups, collapsed, n.id) !== null).map((n) => n.id);
    if (hidden.length) useGroups.getState().reveal(hidden);
  }, [nodes, groups, collapsed]);

  const onNodesChange = useCallback((changes: NodeChange<CanvasNode>[]) => {
    const shift = shiftRef.current;
    const mine = changes
      .filter((c) => !("id" in c) || isLayerId(c.id))
      .map((c) => {
        // A layer shown moved up past a folded band is stored where it would be unfolded.
        if (c.type === "position" && c.position && shift[c.id]) return { ...c, position: { x: c.position.x, y: c.position.y + shift[c.id]! } };
        return c;
      }) as NodeChange<LayerFlowNode>[];
    if (mine.length) useGraph.getState().onNodesChange(mine);
  }, []);

  const onEdgesChange = useCallback((changes: EdgeChange<ShapeFlowEdge>[]) => useGraph.getState().onEdgesChange(changes), []);

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

  const nodeColor = useCallback((node: CanvasNode) => minimapColor(node, validated, runLayers), [validated, runLayers]);

  return (
    <div className="canvas" data-testid="canvas" onDragOver={onDragOver} onDrop={onDrop}>
      <ReactFlow<CanvasNode, ShapeFlowEdge>
        nodes={view.nodes}
        edges={view.edges as ShapeFlowEdge[]}
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
        minZoom={0.05}
        maxZoom={2.5}
        onlyRenderVisibleElements={view.nodes.length > 120}
        aria-label="Model canvas"
      >
        <Background gap={20} />
        <Controls aria-label="Zoom controls" showFitView={false} />
        <MiniMap<CanvasNode> pannable zoomable nodeColor={nodeColor} ariaLabel="Minimap: layers with errors in red, others by the run's precision" />
      </ReactFlow>
      {layoutRunning && (
        <div className="canvas__progress" role="status" data-testid="layout-progress">
          Laying out {nodes.length} layers… the canvas stays usable.
        </div>
      )}
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
