import { useEffect } from "react";

import { readStoredClipboard, writeClipboard } from "../model/clipboard";
import { useGraph } from "../stores/graphStore";
import { useUi } from "../stores/uiStore";
import { useReadableFit } from "./useReadableFit";

export interface Shortcut {
  keys: string;
  action: string;
}

/** What the shortcuts dialog lists; keep in step with `handle` below. */
export const SHORTCUTS: Shortcut[] = [
  { keys: "Ctrl+Z", action: "Undo" },
  { keys: "Ctrl+Shift+Z or Ctrl+Y", action: "Redo" },
  { keys: "Delete or Backspace", action: "Delete the selection" },
  { keys: "Ctrl+C / Ctrl+X / Ctrl+V", action: "Copy / cut / paste (also into another graph)" },
  { keys: "Ctrl+D", action: "Duplicate the selection" },
  { keys: "Ctrl+A", action: "Select everything" },
  { keys: "Escape", action: "Clear the selection" },
  { keys: "Ctrl+S", action: "Save a version" },
  { keys: "L", action: "Automatic layout" },
  { keys: "F", action: "Fit the graph in view" },
  { keys: "?", action: "Show these shortcuts" },
  { keys: "Shift+drag", action: "Select with a box" },
  { keys: "Ctrl+click", action: "Add to the selection" },
];

function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

export function copySelectionToClipboard(cut = false): boolean {
  const content = useGraph.getState().copy();
  if (!content) return false;
  writeClipboard(content);
  if (cut) useGraph.getState().removeSelection();
  useUi.getState().notify(`${cut ? "Cut" : "Copied"} ${content.nodes.length} layer${content.nodes.length === 1 ? "" : "s"}.`);
  return true;
}

export function pasteFromClipboard(): void {
  const content = readStoredClipboard();
  if (content) useGraph.getState().pasteContent(content);
  else useUi.getState().notify("Nothing to paste: copy some layers first.");
}

/** The editor's keyboard shortcuts, active while no text field has the focus and no dialog is open. */
export function useShortcuts(enabled = true): void {
  const fitView = useReadableFit();

  useEffect(() => {
    if (!enabled) return;
    const handle = (event: KeyboardEvent) => {
      if (isTyping(event.target) || useUi.getState().dialog !== null) return;
      const graph = useGraph.getState();
      const mod = event.ctrlKey || event.metaKey;
      const key = event.key.toLowerCase();
      let done = true;
      if (mod && key === "z" && !event.shiftKey) graph.undo();
      else if (mod && (key === "y" || (key === "z" && event.shiftKey))) graph.redo();
      else if (mod && key === "c") done = copySelectionToClipboard();
      else if (mod && key === "x") done = copySelectionToClipboard(true);
      else if (mod && key === "v") pasteFromClipboard();
      else if (mod && key === "d") {
        const content = graph.copy();
        if (content) graph.pasteContent(content);
      } else if (mod && key === "a") graph.selectAll();
      else if (mod && key === "s") useUi.getState().openDialog("save");
      else if (mod || event.altKey) done = false;
      else if (key === "delete" || key === "backspace") graph.removeSelection();
      else if (key === "escape") graph.selectOnly([]);
      else if (key === "l") {
        void graph.layout().then(() => window.requestAnimationFrame(() => fitView({ duration: 200 })));
      } else if (key === "f") fitView({ duration: 200 });
      else if (event.key === "?") useUi.getState().openDialog("shortcuts");
      else done = false;
      if (done) event.preventDefault();
    };
    window.addEventListener("keydown", handle);
    return () => window.removeEventListener("keydown", handle);
  }, [enabled, fitView]);
}
