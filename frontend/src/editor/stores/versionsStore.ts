/** The graph's saved versions: list, save, open, restore. */
import { create } from "zustand";

import { ApiError } from "../../api/client";
import { type Graph } from "../../api/graphs";
import { type GraphVersion, type GraphVersionListItem, createVersion, getVersion, listVersions } from "../../api/versions";
import { clearDraft } from "../model/draft";
import { useGraph } from "./graphStore";

export interface VersionsState {
  graph: Graph | null;
  versions: GraphVersionListItem[];
  status: "idle" | "loading" | "ready" | "error";
  error: string | null;
  saving: boolean;
  /** The version the canvas was last opened from or saved as. */
  baseVersionId: number | null;
  setGraph: (graph: Graph) => void;
  setBase: (versionId: number | null) => void;
  refresh: () => Promise<void>;
  /** Saves the canvas as a new version; resolves with it, rejects with an ApiError. */
  save: (message: string) => Promise<GraphVersion>;
  /** Loads a version onto the canvas (undoable); nothing is saved. */
  open: (versionId: number) => Promise<GraphVersion>;
  /** Saves a copy of an old version as the newest one and shows it. */
  restore: (versionId: number) => Promise<GraphVersion>;
  reset: () => void;
}

const initial = { graph: null, versions: [], status: "idle" as const, error: null, saving: false, baseVersionId: null };

function message(error: unknown): string {
  return error instanceof ApiError ? error.message : "Something went wrong.";
}

export const useVersions = create<VersionsState>()((set, get) => ({
  ...initial,

  setGraph: (graph) => set({ graph }),
  setBase: (baseVersionId) => set({ baseVersionId }),

  refresh: async () => {
    const graph = get().graph;
    if (!graph) return;
    set({ status: "loading", error: null });
    try {
      const page = await listVersions(graph.id);
      set({ versions: page.results, status: "ready" });
    } catch (error) {
      set({ status: "error", error: message(error) });
    }
  },

  save: async (text) => {
    const graph = get().graph;
    if (!graph) throw new ApiError(0, "The graph is not loaded.");
    set({ saving: true });
    try {
      const editsAtSave = useGraph.getState().edits;
      const version = await createVersion(graph.id, {
        document: useGraph.getState().toDocument(),
        message: text,
        parent: get().baseVersionId,
      });
      // Edits made while the request was in flight stay unsaved.
      if (useGraph.getState().edits === editsAtSave) {
        useGraph.getState().markSaved();
        clearDraft(graph.id);
      }
      set({ baseVersionId: version.id });
      await get().refresh();
      return version;
    } finally {
      set({ saving: false });
    }
  },

  open: async (versionId) => {
    const graph = get().graph;
    if (!graph) throw new ApiError(0, "The graph is not loaded.");
    const version = await getVersion(graph.id, versionId);
    useGraph.getState().replaceDocument(version.document);
    set({ baseVersionId: version.id });
    return version;
  },

  restore: async (versionId) => {
    const version = await get().open(versionId);
    return get().save(`Restore version ${version.number}`);
  },

  reset: () => set({ ...initial }),
}));
