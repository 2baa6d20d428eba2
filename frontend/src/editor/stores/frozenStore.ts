import { create } from "zustand";

interface FrozenState {
  /** Node ids whose parameters a run keeps as they are (its config's `freeze`). */
  frozen: Readonly<Record<string, true>>;
  /** Where the list comes from, for the canvas to say ("run 12"); null: nothing is frozen. */
  source: string | null;
  setFrozen: (nodeIds: readonly string[], source: string) => void;
  reset: () => void;
}

/** The layers a fine-tuning run freezes, marked on the canvas; kept apart from the graph. */
export const useFrozen = create<FrozenState>()((set) => ({
  frozen: {},
  source: null,
  setFrozen: (nodeIds, source) =>
    set({ frozen: Object.fromEntries(nodeIds.map((id) => [id, true as const])), source: nodeIds.length > 0 ? source : null }),
  reset: () => set({ frozen: {}, source: null }),
}));

/** The freeze list of a run config, or none (the config is JSON from the server). */
export function freezeListOf(config: Record<string, unknown> | null | undefined): string[] {
  const freeze = config?.freeze;
  return Array.isArray(freeze) ? freeze.filter((id): id is string => typeof id === "string") : [];
}
