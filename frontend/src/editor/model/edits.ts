/**
 * Edits of the canvas state as pure functions: (snapshot, ...) → new snapshot. The graph store
 * records each one in the undo history; tests call them directly.
 */
import type { Connection } from "@xyflow/react";

import type { LayerSpec } from "../../api/layers";
import type { ClipboardContent } from "./clipboard";
import { preparePaste } from "./clipboard";
import { type Params, defaultParams, inputPorts, nextNodeId, outputPorts } from "./document";
import { type LayerFlowNode, type ShapeFlowEdge, toFlowEdge, toFlowNode } from "./flow";
import { type Positions, layoutPositions } from "./layout";

export interface Snapshot {
  nodes: LayerFlowNode[];
  edges: ShapeFlowEdge[];
}

export type SpecLookup = (type: string) => LayerSpec | undefined;

const STEP_X = 330;
const STEP_Y = 110;

function deselected<T extends { selected?: boolean }>(items: T[]): T[] {
  return items.map((item) => (item.selected ? { ...item, selected: false } : item));
}

function ids(snapshot: Snapshot): Set<string> {
  return new Set(snapshot.nodes.map((n) => n.id));
}

/** A free spot: `near`, or below it until no node sits there. */
function freeSpot(nodes: readonly LayerFlowNode[], near: { x: number; y: number }): { x: number; y: number } {
  const spot = { ...near };
  const taken = (p: { x: number; y: number }) =>
    nodes.some((n) => Math.abs(n.position.x - p.x) < 150 && Math.abs(n.position.y - p.y) < 70);
  for (let i = 0; i < 50 && taken(spot); i += 1) spot.y += STEP_Y;
  return spot;
}

/** Why a connection is refused (a cheap check; the server's validation is the one that counts). */
export function connectionProblem(snapshot: Snapshot, connection: Connection | ShapeFlowEdge): string | null {
  if (connection.source === connection.target) return "A layer cannot feed itself.";
  const port = connection.targetHandle ?? "in";
  if (snapshot.edges.some((e) => e.target === connection.target && (e.targetHandle ?? "in") === port)) {
    return `Input ${port} of ${connection.target} is already connected.`;
  }
  return null;
}

export function connect(snapshot: Snapshot, connection: Connection): Snapshot {
  if (connectionProblem(snapshot, connection)) return snapshot;
  const edge = toFlowEdge({
    source: connection.source,
    source_port: connection.sourceHandle ?? "out",
    target: connection.target,
    target_port: connection.targetHandle ?? "in",
  });
  return { ...snapshot, edges: [...snapshot.edges, edge] };
}

export interface AddNodeOptions {
  /** Place the node right of this one and wire that output port into the new node's first input. */
  after?: { id: string; port: string };
  position?: { x: number; y: number };
}

/** Adds a layer with its default parameters and selects it (alone). */
export function addNode(snapshot: Snapshot, spec: LayerSpec, options: AddNodeOptions = {}): { snapshot: Snapshot; id: string } {
  const id = nextNodeId(spec.id, ids(snapshot));
  const anchor = options.after ? snapshot.nodes.find((n) => n.id === options.after?.id) : undefined;
  let position = options.position;
  if (!position) {
    if (anchor) position = freeSpot(snapshot.nodes, { x: anchor.position.x + STEP_X, y: anchor.position.y });
    else {
      const right = snapshot.nodes.reduce((max, n) => Math.max(max, n.position.x + STEP_X), 0);
      position = freeSpot(snapshot.nodes, { x: snapshot.nodes.length ? right : 0, y: 0 });
    }
  }
  const params = defaultParams(spec.params_schema);
  const node = toFlowNode({ id, type: spec.id, params, position }, true);
  let next: Snapshot = { nodes: [...deselected(snapshot.nodes), node], edges: deselected(snapshot.edges) };
  const firstIn = inputPorts(spec, params)[0];
  if (anchor && firstIn && options.after) {
    next = connect(next, { source: anchor.id, sourceHandle: options.after.port, target: id, targetHandle: firstIn });
  }
  return { snapshot: next, id };
}

/** The shape the server inferred on an edge (by edge id), formatted; undefined when unknown. */
export type EdgeShapeLookup = (edgeId: string) => string | undefined;

/**
 * Removes the selected nodes (with their edges) and the selected edges. Deleting one middle
 * layer (one edge in, one edge out) joins its neighbours in the same edit when the layer passes
 * its shape through unchanged, by the server's latest shapes (the shape on its input edge equals
 * the one on its output edge): the next layer then gets exactly what it got before. A layer that
 * changes the shape (a conv, a linear) leaves the gap open; a wire there would be a mismatch.
 */
export function removeSelected(snapshot: Snapshot, edgeShape: EdgeShapeLookup = () => undefined): Snapshot {
  const gone = new Set(snapshot.nodes.filter((n) => n.selected).map((n) => n.id));
  let next: Snapshot = {
    nodes: snapshot.nodes.filter((n) => !gone.has(n.id)),
    edges: snapshot.edges.filter((e) => !e.selected && !gone.has(e.source) && !gone.has(e.target)),
  };
  const bridge = gone.size === 1 ? bridgeOver(snapshot, [...gone][0] ?? "", edgeShape) : null;
  if (bridge) next = connect(next, bridge);
  return next;
}

/** The wire that joins the neighbours of `nodeId` once it is gone, or null (see removeSelected). */
export function bridgeOver(snapshot: Snapshot, nodeId: string, edgeShape: EdgeShapeLookup): Connection | null {
  const into = snapshot.edges.filter((e) => e.target === nodeId);
  const out = snapshot.edges.filter((e) => e.source === nodeId);
  const [before, after] = [into[0], out[0]];
  if (into.length !== 1 || out.length !== 1 || !before || !after) return null;
  if (before.source === after.target || snapshot.edges.some((e) => e.selected && e !== before && e !== after)) return null;
  const shapeIn = edgeShape(before.id);
  if (shapeIn === undefined || shapeIn !== edgeShape(after.id)) return null;
  return {
    source: before.source,
    sourceHandle: before.sourceHandle ?? "out",
    target: after.target,
    targetHandle: after.targetHandle ?? "in",
  };
}

export function hasSelection(snapshot: Snapshot): boolean {
  return snapshot.nodes.some((n) => n.selected) || snapshot.edges.some((e) => e.selected);
}

/** Drops edges into input ports a node no longer has (fewer inputs of a variadic layer, a new type). */
function pruneDanglingEdges(snapshot: Snapshot, nodeId: string, spec: LayerSpec | undefined, params: Params): ShapeFlowEdge[] {
  if (!spec) return snapshot.edges;
  const inputs = new Set(inputPorts(spec, params));
  const outputs = new Set(outputPorts(spec, params));
  return snapshot.edges.filter(
    (e) =>
      !(e.target === nodeId && !inputs.has(e.targetHandle ?? "in")) &&
      !(e.source === nodeId && !outputs.has(e.sourceHandle ?? "out")),
  );
}

export function updateParams(snapshot: Snapshot, nodeId: string, params: Params, spec: LayerSpec | undefined): Snapshot {
  const nodes = snapshot.nodes.map((n) => (n.id === nodeId ? { ...n, data: { ...n.data, params } } : n));
  return { nodes, edges: pruneDanglingEdges({ nodes, edges: snapshot.edges }, nodeId, spec, params) };
}

export function setLabel(snapshot: Snapshot, nodeId: string, label: string): Snapshot {
  const nodes = snapshot.nodes.map((n) => {
    if (n.id !== nodeId) return n;
    const data = { ...n.data };
    if (label.trim()) data.label = label.trim();
    else delete data.label;
    return { ...n, data };
  });
  return { ...snapshot, nodes };
}

/** Pastes clipboard content with fresh ids; the pasted nodes become the selection. */
export function paste(snapshot: Snapshot, content: ClipboardContent, offset = { x: 40, y: 40 }): Snapshot {
  const { nodes, edges } = preparePaste(content, ids(snapshot), offset);
  return {
    nodes: [...deselected(snapshot.nodes), ...nodes.map((n) => toFlowNode(n, true))],
    edges: [...deselected(snapshot.edges), ...edges.map((e) => toFlowEdge(e))],
  };
}

export function autoLayout(snapshot: Snapshot): Snapshot {
  return applyPositions(snapshot, layoutPositions(snapshot.nodes, snapshot.edges)) ?? snapshot;
}

/** The nodes moved to `positions` (nodes it does not name stay); null when none moves. */
export function applyPositions(snapshot: Snapshot, positions: Positions): Snapshot | null {
  let changed = false;
  const nodes = snapshot.nodes.map((n) => {
    const p = positions.get(n.id);
    if (!p || (p.x === n.position.x && p.y === n.position.y)) return n;
    changed = true;
    return { ...n, position: p };
  });
  return changed ? { ...snapshot, nodes } : null;
}

export function selectAll(snapshot: Snapshot): Snapshot {
  return {
    nodes: snapshot.nodes.map((n) => (n.selected ? n : { ...n, selected: true })),
    edges: snapshot.edges.map((e) => (e.selected ? e : { ...e, selected: true })),
  };
}

export function selectOnly(snapshot: Snapshot, nodeIds: readonly string[]): Snapshot {
  const wanted = new Set(nodeIds);
  return {
    nodes: snapshot.nodes.map((n) => (Boolean(n.selected) === wanted.has(n.id) ? n : { ...n, selected: wanted.has(n.id) })),
    edges: deselected(snapshot.edges),
  };
}
