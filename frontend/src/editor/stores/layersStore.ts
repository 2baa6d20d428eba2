import { create } from "zustand";

import { ApiError } from "../../api/client";
import { type LayerSpec, listLayers } from "../../api/layers";

export interface LayersState {
  status: "idle" | "loading" | "ready" | "error";
  error: string | null;
  layers: LayerSpec[];
  byId: Record<string, LayerSpec>;
  categories: string[];
  /** Loads the registry once per page load; later calls are no-ops unless it failed. */
  load: () => Promise<void>;
  setLayers: (layers: LayerSpec[]) => void;
}

function indexed(layers: LayerSpec[]): Pick<LayersState, "layers" | "byId" | "categories"> {
  const categories = [...new Set(layers.map((l) => l.category))];
  // Inputs first: a model starts there. The rest alphabetically.
  categories.sort((a, b) => (a === "input" ? -1 : b === "input" ? 1 : a.localeCompare(b)));
  return { layers, byId: Object.fromEntries(layers.map((l) => [l.id, l])), categories };
}

export const useLayers = create<LayersState>()((set, get) => ({
  status: "idle",
  error: null,
  layers: [],
  byId: {},
  categories: [],

  load: async () => {
    const { status } = get();
    if (status === "loading" || status === "ready") return;
    set({ status: "loading", error: null });
    try {
      const registry = await listLayers();
      set({ ...indexed(registry.layers), status: "ready" });
    } catch (error) {
      set({ status: "error", error: error instanceof ApiError ? error.message : "Could not load the layers." });
    }
  },

  setLayers: (layers) => set({ ...indexed(layers), status: "ready", error: null }),
}));

/** The spec of one layer type (undefined when unknown); for actions outside React. */
export function specOf(type: string): LayerSpec | undefined {
  return useLayers.getState().byId[type];
}
