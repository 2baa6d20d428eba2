/** Automatic left-to-right layout with dagre. */
import dagre from "@dagrejs/dagre";

import type { LayerFlowNode, ShapeFlowEdge } from "./flow";

const DEFAULT_WIDTH = 190;
const DEFAULT_HEIGHT = 80;

/** New positions (top-left corners, as React Flow places nodes) for every node. */
export function layoutPositions(
  nodes: readonly LayerFlowNode[],
  edges: readonly ShapeFlowEdge[],
): Map<string, { x: number; y: number }> {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: "LR", nodesep: 30, ranksep: 120, marginx: 20, marginy: 20 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) {
    graph.setNode(node.id, {
      width: node.measured?.width ?? DEFAULT_WIDTH,
      height: node.measured?.height ?? DEFAULT_HEIGHT,
    });
  }
  for (const edge of edges) {
    if (edge.source !== edge.target && graph.hasNode(edge.source) && graph.hasNode(edge.target)) {
      graph.setEdge(edge.source, edge.target);
    }
  }
  dagre.layout(graph);
  const positions = new Map<string, { x: number; y: number }>();
  for (const node of nodes) {
    const placed = graph.node(node.id);
    const width = node.measured?.width ?? DEFAULT_WIDTH;
    const height = node.measured?.height ?? DEFAULT_HEIGHT;
    positions.set(node.id, { x: Math.round(placed.x - width / 2), y: Math.round(placed.y - height / 2) });
  }
  return positions;
}

/**
 * Whether a document's nodes were never placed: a node without a position (templates and imports
 * carry none: only the canvas knows how large nodes render), or every node at one point. Such a
 * graph is laid out once as it opens, and the next saved version keeps those positions.
 */
export function needsLayout(nodes: readonly { position?: { x: number; y: number } }[]): boolean {
  if (nodes.some((n) => n.position === undefined)) return true;
  if (nodes.length < 2) return false;
  const first = nodes[0]?.position;
  return nodes.every((n) => n.position?.x === first?.x && n.position?.y === first?.y);
}
