/**
 * Which groups of repeated blocks the canvas folds (model/groups.ts). Groups are computed as a
 * document opens and stay fixed while it is edited; a graph opens with whole levels folded until
 * it shows a readable number of boxes, and each group unfolds in place.
 */
import { create } from "zustand";

import { type Groups, NO_GROUPS, computeGroups, foldedAncestor, openingCollapsed } from "../model/groups";
import type { LayerFlowNode, ShapeFlowEdge } from "../model/flow";
import { useGraph } from "./graphStore";

export interface GroupsState {
  groups: Groups;
  collapsed: ReadonlySet<string>;
  /** Computes the groups of a freshly opened graph and folds them for its first view. */
  open: (nodes: readonly LayerFlowNode[], edges: readonly ShapeFlowEdge[]) => void;
  toggle: (group: string) => void;
  /** Unfolds whatever hides these nodes (a selection made from the issue list). */
  reveal: (nodeIds: readonly string[]) => void;
  reset: () => void;
}

export const useGroups = create<GroupsState>()((set, get) => ({
  groups: NO_GROUPS,
  collapsed: new Set(),
  open: (nodes, edges) => {
    const groups = computeGroups({ nodes, edges });
    set({ groups, collapsed: openingCollapsed(groups, nodes.map((n) => n.id)) });
  },
  toggle: (group) => {
    const collapsed = new Set(get().collapsed);
    if (collapsed.has(group)) collapsed.delete(group);
    else collapsed.add(group);
    set({ collapsed });
  },
  reveal: (nodeIds) => {
    const { groups, collapsed } = get();
    if (collapsed.size === 0) return;
    const next = new Set(collapsed);
    for (const id of nodeIds) {
      for (let g = foldedAncestor(groups, next, id); g; g = foldedAncestor(groups, next, id)) next.delete(g);
    }
    if (next.size !== collapsed.size) set({ collapsed: next });
  },
  reset: () => set({ groups: NO_GROUPS, collapsed: new Set() }),
}));

// A document opens (load, or a version put on the canvas): its groups are found before the canvas
// first renders it, so a 428-layer import is never drawn unfolded, not even for one frame.
useGraph.subscribe((state, previous) => {
  if (state.loads !== previous.loads) useGroups.getState().open(state.nodes, state.edges);
});
