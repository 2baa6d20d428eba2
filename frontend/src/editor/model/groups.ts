/**
 * Collapsible groups of an imported network's repeated blocks (ResNet-50's stages and blocks,
 * DenseNet's dense blocks, a transformer's encoder layers), and the canvas as it shows them.
 *
 * An imported node's label is its module path (`layer2.0.conv1`); its group is the parent path
 * (`layer2.0`), and every ancestor path with more than one node is a group too. A node the
 * importer made from a function (`add_3`, `cat_6`: no label) joins the deepest group shared by
 * the nodes it feeds or is fed by, whichever is deeper, when both sides lie in groups. Groups are computed as a graph opens and
 * stay fixed while it is edited, so a layer added later never disappears into a folded block.
 *
 * Folding needs no new layout. Imports and Auto layout put ranks in rows, and blocks that run one
 * after another occupy bands of rows of their own; a folded group shows as one node at the top
 * of its band, and everything below the band moves up by the band's height. Expanding it
 * restores the stored positions: it opens in place.
 */
import type { Edge, Node } from "@xyflow/react";

import type { LayerFlowNode, ShapeFlowEdge } from "./flow";

export interface Group {
  /** The module path, e.g. `layer2.0`. */
  id: string;
  parent: string | null;
  depth: number;
  /** Every layer in the group, nested groups included, in document order. */
  members: string[];
  /** Direct child groups. */
  children: string[];
}

export interface Groups {
  byId: Record<string, Group>;
  /** The innermost group of each grouped node. */
  groupOf: Record<string, string>;
  roots: string[];
}

export const NO_GROUPS: Groups = { byId: {}, groupOf: {}, roots: [] };

interface GroupInput {
  nodes: readonly { id: string; data: { label?: string; [key: string]: unknown } }[];
  edges: readonly { source: string; target: string }[];
}

/** Fewer layers than this are not worth a fold (a ResNet shortcut's conv and norm). */
const MIN_GROUP = 3;

const parentPath = (path: string): string => path.split(".").slice(0, -1).join(".");
const depthOf = (path: string): number => (path ? path.split(".").length : 0);

function commonPath(paths: readonly string[]): string {
  if (paths.length === 0) return "";
  let parts = paths[0]!.split(".");
  for (const path of paths.slice(1)) {
    const other = path.split(".");
    let n = 0;
    while (n < parts.length && n < other.length && parts[n] === other[n]) n += 1;
    parts = parts.slice(0, n);
  }
  return parts.filter(Boolean).join(".");
}

/** The groups of a graph whose nodes carry module paths as labels; none for hand-built graphs. */
export function computeGroups({ nodes, edges }: GroupInput): Groups {
  const path: Record<string, string> = {};
  for (const node of nodes) if (node.data.label?.includes(".")) path[node.id] = parentPath(node.data.label);
  if (Object.keys(path).length === 0) return NO_GROUPS;

  const preds: Record<string, string[]> = {};
  const succs: Record<string, string[]> = {};
  for (const e of edges) {
    (succs[e.source] ??= []).push(e.target);
    (preds[e.target] ??= []).push(e.source);
  }
  // Unlabelled nodes: forward in document order (imports list nodes topologically) for the
  // nodes that feed them, backward for the nodes they feed; the deeper answer wins.
  // Labelled neighbours speak first; unlabelled ones (a chain of residual adds) only without them.
  const labelled = new Set(Object.keys(path));
  const side = (near: readonly string[], resolved: Record<string, string>): string | undefined => {
    const direct = near.filter((n) => labelled.has(n)).map((n) => path[n]!);
    const known = direct.length ? direct : near.map((n) => resolved[n]).filter((p): p is string => p !== undefined);
    return known.length ? commonPath(known) : undefined;
  };
  const fromAbove: Record<string, string> = {};
  for (const node of nodes) {
    if (labelled.has(node.id)) continue;
    const found = side(preds[node.id] ?? [], fromAbove);
    if (found !== undefined) fromAbove[node.id] = found;
  }
  const fromBelow: Record<string, string> = {};
  for (const node of [...nodes].reverse()) {
    if (labelled.has(node.id)) continue;
    const found = side(succs[node.id] ?? [], fromBelow);
    if (found !== undefined) fromBelow[node.id] = found;
  }
  for (const node of nodes) {
    if (labelled.has(node.id)) continue;
    const above = fromAbove[node.id] ?? "";
    const below = fromBelow[node.id] ?? "";
    // Both sides inside some group: a node between blocks (a stem's pooling) stays outside.
    if (!above || !below) continue;
    path[node.id] = depthOf(below) > depthOf(above) ? below : above;
  }

  // Count nodes under every ancestor path; a group needs MIN_GROUP nodes or more.
  const members: Record<string, string[]> = {};
  for (const node of nodes) {
    let p = path[node.id];
    while (p) {
      (members[p] ??= []).push(node.id);
      p = parentPath(p);
    }
  }
  // A path whose only content is one child path adds nothing (`encoder` around `encoder.layers`).
  const kept = Object.keys(members).filter((p) => {
    if (members[p]!.length < MIN_GROUP) return false;
    const childPaths = Object.keys(members).filter((c) => parentPath(c) === p);
    return !(childPaths.length === 1 && members[childPaths[0]!]!.length === members[p]!.length);
  });
  const keptSet = new Set(kept);
  const keptParent = (p: string): string | null => {
    let q = parentPath(p);
    while (q && !keptSet.has(q)) q = parentPath(q);
    return q || null;
  };
  const byId: Record<string, Group> = {};
  for (const p of kept.sort()) {
    const parent = keptParent(p);
    byId[p] = { id: p, parent, depth: 0, members: members[p]!, children: [] };
  }
  for (const group of Object.values(byId)) {
    if (group.parent) byId[group.parent]!.children.push(group.id);
    let d = 0;
    for (let q = group.parent; q; q = byId[q]!.parent) d += 1;
    group.depth = d;
  }
  const groupOf: Record<string, string> = {};
  for (const node of nodes) {
    let p = path[node.id];
    while (p && !keptSet.has(p)) p = parentPath(p);
    if (p) groupOf[node.id] = p;
  }
  return { byId, groupOf, roots: Object.values(byId).filter((g) => !g.parent).map((g) => g.id) };
}

/** The outermost folded group holding `nodeId`, or null when it is shown. */
export function foldedAncestor(groups: Groups, collapsed: ReadonlySet<string>, nodeId: string): string | null {
  let found: string | null = null;
  for (let g: string | null = groups.groupOf[nodeId] ?? null; g; g = groups.byId[g]?.parent ?? null) {
    if (collapsed.has(g)) found = g;
  }
  return found;
}

function hasFoldedAncestor(groups: Groups, collapsed: ReadonlySet<string>, group: string): boolean {
  for (let g = groups.byId[group]?.parent ?? null; g; g = groups.byId[g]?.parent ?? null) if (collapsed.has(g)) return true;
  return false;
}

/** How many boxes the canvas shows with `collapsed` folded. */
export function visibleCount(groups: Groups, collapsed: ReadonlySet<string>, nodeIds: readonly string[]): number {
  const shown = new Set<string>();
  for (const id of nodeIds) shown.add(foldedAncestor(groups, collapsed, id) ?? id);
  return shown.size;
}

/**
 * The groups folded as a graph opens: every group, then whole levels unfolded from the top while
 * the canvas shows at most `limit` boxes (ResNet-50: the stem and its 16 blocks).
 */
export function openingCollapsed(groups: Groups, nodeIds: readonly string[], limit = 30): Set<string> {
  const collapsed = new Set(Object.keys(groups.byId));
  const maxDepth = Math.max(-1, ...Object.values(groups.byId).map((g) => g.depth));
  for (let depth = 0; depth <= maxDepth; depth += 1) {
    const next = new Set([...collapsed].filter((id) => groups.byId[id]!.depth !== depth));
    if (visibleCount(groups, next, nodeIds) > limit) break;
    collapsed.clear();
    for (const id of next) collapsed.add(id);
  }
  return collapsed;
}

export interface GroupNodeData extends Record<string, unknown> {
  group: string;
  /** Layers inside, nested groups included. */
  size: number;
  /** Direct child groups (blocks of a stage). */
  blocks: number;
  /** The node whose output leaves the group (the last one), for its shape. */
  exit: string;
  members: string[];
}

export interface GroupFrameData extends Record<string, unknown> {
  group: string;
  depth: number;
  width: number;
  height: number;
}

export type GroupFlowNode = Node<GroupNodeData, "fold">;
export type GroupFrameNode = Node<GroupFrameData, "groupFrame">;
export type CanvasNode = LayerFlowNode | GroupFlowNode | GroupFrameNode;

export const GROUP_PREFIX = "group:";
export const FRAME_PREFIX = "frame:";
const DEFAULT_WIDTH = 220;
const DEFAULT_HEIGHT = 80;

export interface FoldedView {
  nodes: CanvasNode[];
  edges: (ShapeFlowEdge | Edge)[];
  /** How far up each shown layer moved: the store's y is the shown y plus this. */
  shift: Record<string, number>;
}

interface Band {
  top: number;
  bottom: number;
}

/**
 * What the canvas shows with `collapsed` folded: the shown layers (moved up past folded bands),
 * one node per outermost folded group, a frame behind every unfolded group, and the edges with
 * their ends inside a folded group moved to it. With nothing folded, the nodes are the store's.
 */
export function foldedView(
  nodes: readonly LayerFlowNode[],
  edges: readonly ShapeFlowEdge[],
  groups: Groups,
  collapsed: ReadonlySet<string>,
  previous: FoldedView | null = null,
): FoldedView {
  if (Object.keys(groups.byId).length === 0) return { nodes: nodes as CanvasNode[], edges: edges as ShapeFlowEdge[], shift: {} };
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const folded: Record<string, string> = {};
  for (const node of nodes) {
    const g = foldedAncestor(groups, collapsed, node.id);
    if (g) folded[node.id] = g;
  }
  const height = (n: LayerFlowNode) => n.measured?.height ?? DEFAULT_HEIGHT;
  const width = (n: LayerFlowNode) => n.measured?.width ?? DEFAULT_WIDTH;

  // Bands of the folded groups, merged where they overlap.
  const foldedGroups = [...new Set(Object.values(folded))];
  const raw: (Band & { group: string })[] = [];
  for (const g of foldedGroups) {
    const ys = groups.byId[g]!.members.map((id) => byId.get(id)?.position.y).filter((y): y is number => y !== undefined);
    if (ys.length) raw.push({ group: g, top: Math.min(...ys), bottom: Math.max(...ys) });
  }
  raw.sort((a, b) => a.top - b.top);
  const bands: Band[] = [];
  for (const band of raw) {
    const last = bands[bands.length - 1];
    if (last && band.top <= last.bottom) last.bottom = Math.max(last.bottom, band.bottom);
    else bands.push({ top: band.top, bottom: band.bottom });
  }
  /** The shown y of a stored y: up by every band above it; inside a band, its top. */
  const shownY = (y: number): number => {
    let up = 0;
    for (const band of bands) {
      if (y < band.top) break;
      if (y <= band.bottom) return band.top - up;
      up += band.bottom - band.top;
    }
    return y - up;
  };

  const shown: CanvasNode[] = [];
  const shift: Record<string, number> = {};
  for (const node of nodes) {
    if (folded[node.id]) continue;
    const y = shownY(node.position.y);
    shift[node.id] = node.position.y - y;
    if (y === node.position.y) shown.push(node);
    else {
      // The same layer at the same place keeps its object, so React Flow leaves it alone.
      const cached = movedCache.get(node);
      const moved = cached && cached.position.y === y ? cached : { ...node, position: { x: node.position.x, y } };
      movedCache.set(node, moved);
      shown.push(moved);
    }
  }
  for (const g of foldedGroups) {
    const group = groups.byId[g]!;
    const placed = group.members.map((id) => byId.get(id)).filter((n): n is LayerFlowNode => n !== undefined);
    if (placed.length === 0) continue;
    const top = Math.min(...placed.map((n) => n.position.y));
    const xs = placed.map((n) => n.position.x + width(n) / 2);
    const center = (Math.min(...xs) + Math.max(...xs)) / 2;
    const exit = placed.reduce((a, b) => (b.position.y >= a.position.y ? b : a));
    shown.push({
      id: GROUP_PREFIX + g,
      type: "fold",
      position: { x: Math.round(center - DEFAULT_WIDTH / 2), y: shownY(top) },
      data: { group: g, size: group.members.length, blocks: group.children.length, exit: exit.id, members: group.members },
      selectable: false,
      draggable: false,
      deletable: false,
    });
  }
  // A frame behind every unfolded group whose parent is unfolded too, so it can be folded back.
  const frames: GroupFrameNode[] = [];
  for (const group of Object.values(groups.byId)) {
    if (collapsed.has(group.id) || hasFoldedAncestor(groups, collapsed, group.id)) continue;
    const placed = group.members.map((id) => byId.get(id)).filter((n): n is LayerFlowNode => n !== undefined && !folded[n.id]);
    const boxes = [
      ...placed.map((n) => ({ x: n.position.x, y: shownY(n.position.y), w: width(n), h: height(n) })),
      ...group.children
        .filter((c) => collapsed.has(c))
        .flatMap((c) => shown.filter((s) => s.id === GROUP_PREFIX + c))
        .map((s) => ({ x: s.position.x, y: s.position.y, w: DEFAULT_WIDTH, h: DEFAULT_HEIGHT })),
    ];
    if (boxes.length === 0) continue;
    const pad = 14 + 6 * (3 - Math.min(3, group.depth));
    const x0 = Math.min(...boxes.map((b) => b.x)) - pad;
    const y0 = Math.min(...boxes.map((b) => b.y)) - pad - 22;
    const x1 = Math.max(...boxes.map((b) => b.x + b.w)) + pad;
    const y1 = Math.max(...boxes.map((b) => b.y + b.h)) + pad;
    frames.push({
      id: FRAME_PREFIX + group.id,
      type: "groupFrame",
      position: { x: x0, y: y0 },
      data: { group: group.id, depth: group.depth, width: x1 - x0, height: y1 - y0 },
      selectable: false,
      draggable: false,
      deletable: false,
    });
  }

  const shownEdges: (ShapeFlowEdge | Edge)[] = [];
  const seen = new Set<string>();
  for (const edge of edges) {
    const s = folded[edge.source];
    const t = folded[edge.target];
    if (!s && !t) {
      shownEdges.push(edge);
      continue;
    }
    if (s && s === t) continue;
    const source = s ? GROUP_PREFIX + s : edge.source;
    const target = t ? GROUP_PREFIX + t : edge.target;
    const key = `${source}->${target}`;
    if (seen.has(key)) continue;
    seen.add(key);
    shownEdges.push({
      ...edge,
      source,
      target,
      sourceHandle: s ? "out" : edge.sourceHandle,
      targetHandle: t ? "in" : edge.targetHandle,
      selectable: false,
      deletable: false,
    });
  }
  return { nodes: reuse([...frames, ...shown], previous?.nodes), edges: reuse(shownEdges, previous?.edges), shift };
}

const movedCache = new WeakMap<LayerFlowNode, LayerFlowNode>();

function sameShallow(a: object, b: object): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => {
    const va = (a as Record<string, unknown>)[k];
    const vb = (b as Record<string, unknown>)[k];
    if (va === vb) return true;
    return typeof va === "object" && typeof vb === "object" && va !== null && vb !== null && !Array.isArray(va) && sameShallow(va, vb);
  });
}

/** `next` with every item equal to the previous one of its id replaced by that one. */
function reuse<T extends { id: string }>(next: T[], previous: readonly T[] | undefined): T[] {
  if (!previous) return next;
  const before = new Map(previous.map((item) => [item.id, item]));
  return next.map((item) => {
    const old = before.get(item.id);
    return old && old !== item && sameShallow(old, item) ? old : item;
  });
}
