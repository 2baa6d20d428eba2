import { create } from "zustand";

import type { DatasetStatus, IngestProgress } from "../api/datasets";

export interface IngestState extends IngestProgress {
  /** From `dataset.finished`: succeeded or failed. */
  status?: DatasetStatus;
  /** From `dataset.finished`: succeeded, but files were skipped. */
  warnings?: boolean;
}

const FINISHED: ReadonlySet<string> = new Set<DatasetStatus>(["succeeded", "failed", "cancelled"]);

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
    } else if (event.type === "dataset.finished" && FINISHED.has(String(event.status))) {
      const finished: IngestState = { status: event.status as DatasetStatus, warnings: event.warnings === true };
      set((state) => ({ versions: { ...state.versions, [version]: { ...state.versions[version], ...finished } } }));
    }
  },
  clear: () => set({ versions: {} }),
}));
