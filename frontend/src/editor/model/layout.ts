/**
 * Automatic top-to-bottom layout with dagre: inputs at the top, every edge pointing down.
 * Large graphs run it in a Web Worker (layoutWorker.ts, through layoutClient.ts), so the page
 * never freezes; `layoutBoxes` is the pure function both sides call.
 */
import dagre from "@dagrejs/dagre";

import type { LayerFlowNode, ShapeFlowEdge } from "./flow";

const DEFAULT_WIDTH = 220;
const DEFAULT_HEIGHT = 80;

/** What a layout needs of a node: its id and rendered size. */
export interface LayoutBox {
  id: string;
  width: number;
  height: number;
}

export interface LayoutLink {
  source: string;
  target: string;
}

export type Positions = Map<string, { x: number; y: number }>;

/** Top-left corners (as React Flow places nodes) for every box, ranks in rows. */
export function layoutBoxes(boxes: readonly LayoutBox[], links: readonly LayoutLink[]): Positions {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: "TB", nodesep: 40, ranksep: 50, marginx: 20, marginy: 20 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const box of boxes) graph.setNode(box.id, { width: box.width, height: box.height });
  for (const link of links) {
    if (link.source !== link.target && graph.hasNode(link.source) && graph.hasNode(link.target)) {
      graph.setEdge(link.source, link.target);
    }
  }
  dagre.layout(graph);
  const positions: Positions = new Map();
  for (const box of boxes) {
    const placed = graph.node(box.id);
    positions.set(box.id, { x: Math.round(placed.x - box.width / 2), y: Math.round(placed.y - box.height / 2) });
  }
  return positions;
}

/** The boxes and links of React Flow nodes and edges (measured sizes where known). */
export function layoutInput(
  nodes: readonly LayerFlowNode[],
  edges: readonly ShapeFlowEdge[],
): { boxes: LayoutBox[]; links: LayoutLink[] } {
  return {
    boxes: nodes.map((n) => ({ id: n.id, width: n.measured?.width ?? DEFAULT_WIDTH, height: n.measured?.height ?? DEFAULT_HEIGHT })),
    links: edges.map((e) => ({ source: e.source, target: e.target })),
  };
}

/** New positions for every node, computed here (small graphs, tests, read-only views). */
export function layoutPositions(nodes: readonly LayerFlowNode[], edges: readonly ShapeFlowEdge[]): Positions {
  const { boxes, links } = layoutInput(nodes, edges);
  return layoutBoxes(boxes, links);
}

/**
 * Whether a document's nodes were never placed: a node without a position, or every node at one
 * point. Templates and imports arrive placed (builder/graph/layout.py); an older document without
 * positions is laid out once as it opens, in the worker, and the next saved version keeps them.
 */
export function needsLayout(nodes: readonly { position?: { x: number; y: number } }[]): boolean {
  if (nodes.some((n) => n.position === undefined)) return true;
  if (nodes.length < 2) return false;
  const first = nodes[0]?.position;
  return nodes.every((n) => n.position?.x === first?.x && n.position?.y === first?.y);
}

/** Provisional places for unplaced nodes while the layout runs: one column, in document order. */
export function stackPositions(nodes: readonly { id: string }[]): Positions {
  return new Map(nodes.map((n, i) => [n.id, { x: 0, y: i * (DEFAULT_HEIGHT + 50) }]));
}
