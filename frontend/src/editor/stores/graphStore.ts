/**
 * The graph being edited: React Flow nodes and edges (the document, plus selection), with an
 * undo/redo history of every edit. Components read it through selectors.
 */
import { type Connection, type EdgeChange, type NodeChange, applyEdgeChanges, applyNodeChanges } from "@xyflow/react";
import { create } from "zustand";

import type { Issue } from "../../api/validation";
import { type ClipboardContent, copySelection } from "../model/clipboard";
import type { GraphDocument, Params } from "../model/document";
import { outputPorts } from "../model/document";
import * as edits from "../model/edits";
import { applyFix } from "../model/fixes";
import type { Snapshot } from "../model/edits";
import { type DocumentMeta, type LayerFlowNode, type ShapeFlowEdge, fromDocument, toDocument } from "../model/flow";
import { type History, emptyHistory, record, redo, undo } from "../model/history";
import { layoutInput, needsLayout, stackPositions } from "../model/layout";
import { layoutOffThread } from "../model/layoutClient";
import { specOf } from "./layersStore";
import { useValidation } from "./validationStore";

export interface GraphState extends Snapshot {
  graphId: number | null;
  meta: DocumentMeta;
  history: History<Snapshot>;
  /** Bumps on every change that matters to validation (not moves, not selection). */
  revision: number;
  /** Bumps on every change to the document, moves included (drafts, unsaved state). */
  edits: number;
  /** Whether the document differs from what was last saved or opened. */
  dirty: boolean;
  pendingMove: Snapshot | null;
  /** Bumps each time a document is opened (load), so views can start afresh (folded groups). */
  loads: number;
  /** Whether an automatic layout is running (in a worker); the canvas stays usable meanwhile. */
  layoutRunning: boolean;

  load: (graphId: number | null, document: GraphDocument, options?: { dirty?: boolean }) => void;
  onNodesChange: (changes: NodeChange<LayerFlowNode>[]) => void;
  onEdgesChange: (changes: EdgeChange<ShapeFlowEdge>[]) => void;
  beginMove: () => void;
  endMove: () => void;
  connect: (connection: Connection) => void;
  addLayer: (type: string, position?: { x: number; y: number }) => string | null;
  addLayerAfterSelection: (type: string) => string | null;
  removeSelection: () => void;
  updateParams: (nodeId: string, params: Params) => void;
  setLabel: (nodeId: string, label: string) => void;
  applyFix: (issue: Issue) => boolean;
  /** Lays the graph out top to bottom, off the main thread; one undo step when it lands. */
  layout: () => Promise<void>;
  /** Lays out without an undo step or unsaved change (the graph as it opens). */
  layoutQuietly: () => Promise<void>;
  pasteContent: (content: ClipboardContent) => void;
  copy: () => ClipboardContent | null;
  replaceDocument: (document: GraphDocument) => void;
  selectAll: () => void;
  selectOnly: (nodeIds: readonly string[]) => void;
  undo: () => void;
  redo: () => void;
  markSaved: () => void;
  toDocument: () => GraphDocument;
}

const initial = {
  graphId: null,
  loads: 0,
  meta: {},
  nodes: [] as LayerFlowNode[],
  edges: [] as ShapeFlowEdge[],
  history: emptyHistory<Snapshot>(),
  revision: 0,
  edits: 0,
  dirty: false,
  pendingMove: null,
  layoutRunning: false,
};

const moved = (a: Snapshot, b: Snapshot) =>
  a.nodes.length !== b.nodes.length ||
  a.nodes.some((n, i) => n.position.x !== b.nodes[i]?.position.x || n.position.y !== b.nodes[i]?.position.y);

export const useGraph = create<GraphState>()((set, get) => {
  /** Runs an edit; records the state before it for undo. Returns false when nothing changed. */
  const commit = (edit: (s: Snapshot) => Snapshot | null, semantic = true): boolean => {
    const state = get();
    const before: Snapshot = { nodes: state.nodes, edges: state.edges };
    const after = edit(before);
    if (!after || (after.nodes === before.nodes && after.edges === before.edges)) return false;
    set({
      nodes: after.nodes,
      edges: after.edges,
      history: record(state.history, before),
      revision: state.revision + (semantic ? 1 : 0),
      edits: state.edits + 1,
      dirty: true,
    });
    return true;
  };

  /** Lays out in the worker; the answer lands only if the same document is still open. */
  const runLayout = async (undoable: boolean): Promise<void> => {
    const { nodes, edges, loads } = get();
    if (nodes.length === 0) return;
    const { boxes, links } = layoutInput(nodes, edges);
    set({ layoutRunning: true });
    const positions = await layoutOffThread(boxes, links);
    // Superseded by a newer layout (which will land), or another document opened meanwhile.
    if (!positions || get().loads !== loads) return;
    set({ layoutRunning: false });
    if (undoable) commit((s) => edits.applyPositions(s, positions), false);
    else {
      const placed = edits.applyPositions(get(), positions);
      if (placed) set({ nodes: placed.nodes });
    }
  };

  const restore = (step: { state: Snapshot; history: History<Snapshot> } | null) => {
    if (!step) return;
    const state = get();
    set({ ...step.state, history: step.history, revision: state.revision + 1, edits: state.edits + 1, dirty: true });
  };

  return {
    ...initial,

    load: (graphId, document, options = {}) => {
      const { nodes, edges, meta } = fromDocument(document);
      let snapshot: Snapshot = { nodes, edges };
      // Never placed (an older import): a column for now; the canvas lays it out in the worker
      // once it has measured the nodes (Canvas's layoutOnOpen).
      if (needsLayout(document.nodes)) snapshot = edits.applyPositions(snapshot, stackPositions(nodes)) ?? snapshot;
      const state = get();
      set({
        ...initial,
        ...snapshot,
        graphId,
        meta,
        loads: state.loads + 1,
        revision: state.revision + 1,
        edits: state.edits + 1,
        dirty: options.dirty ?? false,
      });
    },

    onNodesChange: (changes) => {
      const removes = changes.filter((c) => c.type === "remove");
      if (removes.length > 0) {
        commit((s) => ({ ...s, nodes: applyNodeChanges(removes, s.nodes) }));
        changes = changes.filter((c) => c.type !== "remove");
        if (changes.length === 0) return;
      }
      const state = get();
      const moves = changes.filter((c) => c.type === "position" && c.position);
      // A move outside a drag (arrow keys on a selected node) is one undoable step of its own.
      if (moves.length > 0 && state.pendingMove === null && moves.every((c) => c.type === "position" && !c.dragging)) {
        commit((s) => ({ ...s, nodes: applyNodeChanges(changes, s.nodes) }), false);
        return;
      }
      const nodes = applyNodeChanges(changes, state.nodes);
      set(moves.length > 0 ? { nodes, edits: state.edits + 1, dirty: true } : { nodes });
    },

    onEdgesChange: (changes) => {
      const removes = changes.filter((c) => c.type === "remove");
      if (removes.length > 0) commit((s) => ({ ...s, edges: applyEdgeChanges(removes, s.edges) }));
      const rest = changes.filter((c) => c.type !== "remove");
      if (rest.length > 0) set({ edges: applyEdgeChanges(rest, get().edges) });
    },

    beginMove: () => {
      const { nodes, edges } = get();
      set({ pendingMove: { nodes, edges } });
    },

    endMove: () => {
      const { pendingMove, nodes, edges, history } = get();
      if (!pendingMove) return;
      set({ pendingMove: null, ...(moved(pendingMove, { nodes, edges }) ? { history: record(history, pendingMove) } : {}) });
    },

    connect: (connection) => void commit((s) => edits.connect(s, connection)),

    addLayer: (type, position) => {
      const spec = specOf(type);
      if (!spec) return null;
      let id: string | null = null;
      commit((s) => {
        const added = edits.addNode(s, spec, position ? { position } : {});
        id = added.id;
        return added.snapshot;
      });
      return id;
    },

    addLayerAfterSelection: (type) => {
      const spec = specOf(type);
      if (!spec) return null;
      const selected = get().nodes.filter((n) => n.selected);
      const anchor = selected.length === 1 ? selected[0] : undefined;
      const after = anchor ? { id: anchor.id, port: outputPorts(specOf(anchor.data.type), anchor.data.params)[0] ?? "out" } : undefined;
      let id: string | null = null;
      commit((s) => {
        const added = edits.addNode(s, spec, after ? { after } : {});
        id = added.id;
        return added.snapshot;
      });
      return id;
    },

    removeSelection: () => {
      const shapes = useValidation.getState().edgeShapes;
      const known = (id: string) => (shapes[id] === "?" ? undefined : shapes[id]); // "?": not inferred
      commit((s) => (edits.hasSelection(s) ? edits.removeSelected(s, known) : null));
    },

    updateParams: (nodeId, params) => void commit((s) => edits.updateParams(s, nodeId, params, specOf(s.nodes.find((n) => n.id === nodeId)?.data.type ?? ""))),

    setLabel: (nodeId, label) => void commit((s) => edits.setLabel(s, nodeId, label), false),

    applyFix: (issue) => commit((s) => applyFix(s, issue, specOf)),

    layout: () => runLayout(true),
    layoutQuietly: () => runLayout(false),

    pasteContent: (content) => void commit((s) => (content.nodes.length ? edits.paste(s, content) : null)),

    copy: () => {
      const selected = new Set(get().nodes.filter((n) => n.selected).map((n) => n.id));
      if (selected.size === 0) return null;
      const doc = get().toDocument();
      return copySelection(doc.nodes, doc.edges, selected);
    },

    replaceDocument: (document) => {
      const { nodes, edges, meta } = fromDocument(document);
      set({ meta, loads: get().loads + 1 });
      const unplaced = needsLayout(document.nodes);
      commit(() => (unplaced ? (edits.applyPositions({ nodes, edges }, stackPositions(nodes)) ?? { nodes, edges }) : { nodes, edges }));
      if (unplaced) void get().layoutQuietly();
    },

    selectAll: () => set(edits.selectAll(get())),
    selectOnly: (nodeIds) => set(edits.selectOnly(get(), nodeIds)),
    undo: () => restore(undo(get().history, { nodes: get().nodes, edges: get().edges })),
    redo: () => restore(redo(get().history, { nodes: get().nodes, edges: get().edges })),
    markSaved: () => set({ dirty: false }),
    toDocument: () => {
      const { nodes, edges, meta } = get();
      return toDocument(nodes, edges, meta);
    },
  };
});

export function resetGraphStore(): void {
  useGraph.setState({ ...initial });
}

/** Selector: the id of the one selected node, or null (none, or several). */
export function selectSingleNodeId(state: GraphState): string | null {
  let found: string | null = null;
  for (const node of state.nodes) {
    if (!node.selected) continue;
    if (found !== null) return null;
    found = node.id;
  }
  return found;
}

export function selectSelectionCount(state: GraphState): number {
  let count = 0;
  for (const node of state.nodes) if (node.selected) count += 1;
  for (const edge of state.edges) if (edge.selected) count += 1;
  return count;
}
