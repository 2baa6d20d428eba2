import { create } from "zustand";

import type { IngestProgress } from "../api/datasets";

export interface IngestState extends IngestProgress {
  status?: string;
}

interface IngestStore {
  /** Live ingest state per dataset version id, from the project socket. */
  versions: Record<number, IngestState>;
  apply: (event: Record<string, unknown>) => void;
  clear: () => void;
}

export const useIngest = create<IngestStore>()((set) => ({
  versions: {},
  apply: (event) => {
    const version = typeof event.version === "number" ? event.version : null;
    if (version === null) return;
    if (event.type === "dataset.progress") {
      const progress: IngestState = { phase: String(event.phase ?? ""), done: Number(event.done ?? 0), total: Number(event.total ?? 0) };
      set((state) => ({ versions: { ...state.versions, [version]: { ...state.versions[version], ...progress } } }));
    } else if (event.type === "dataset.finished") {
      set((state) => ({ versions: { ...state.versions, [version]: { ...state.versions[version], status: String(event.status) } } }));
    }
  },
  clear: () => set({ versions: {} }),
}));
