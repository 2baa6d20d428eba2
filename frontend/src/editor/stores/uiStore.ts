/** Editor chrome: which side panel and dialog are open, and short notices. Not the document. */
import { create } from "zustand";

export type SidePanel = "properties" | "versions";
export type EditorDialog = "save" | "code" | "compare" | "shortcuts";

export interface UiState {
  panel: SidePanel;
  dialog: EditorDialog | null;
  /** The versions to compare (ids); "current" is the canvas. */
  compare: [number | "current", number | "current"] | null;
  /** The version whose code the code view shows (null: the newest). */
  codeVersionId: number | null;
  notice: string | null;
  setPanel: (panel: SidePanel) => void;
  openDialog: (dialog: EditorDialog) => void;
  closeDialog: () => void;
  openCompare: (a: number | "current", b: number | "current") => void;
  openCode: (versionId: number | null) => void;
  notify: (notice: string | null) => void;
  reset: () => void;
}

const initial = { panel: "properties" as SidePanel, dialog: null, compare: null, codeVersionId: null, notice: null };

export const useUi = create<UiState>()((set) => ({
  ...initial,
  setPanel: (panel) => set({ panel }),
  openDialog: (dialog) => set({ dialog }),
  closeDialog: () => set({ dialog: null }),
  openCompare: (a, b) => set({ dialog: "compare", compare: [a, b] }),
  openCode: (codeVersionId) => set({ dialog: "code", codeVersionId }),
  notify: (notice) => set({ notice }),
  reset: () => set({ ...initial }),
}));
