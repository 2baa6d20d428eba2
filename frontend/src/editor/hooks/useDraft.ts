import { useEffect } from "react";

import { clearDraft, writeDraft } from "../model/draft";
import { useGraph } from "../stores/graphStore";
import { useVersions } from "../stores/versionsStore";

const DRAFT_DELAY_MS = 400;

/**
 * Keeps unsaved changes in localStorage (debounced, and at once when the page goes away), and
 * asks the browser to warn before closing a tab with unsaved changes.
 */
export function useDraft(graphId: number | null): void {
  const edits = useGraph((s) => s.edits);
  const dirty = useGraph((s) => s.dirty);

  useEffect(() => {
    if (graphId === null) return;
    const flush = () => {
      const state = useGraph.getState();
      if (state.graphId !== graphId) return;
      if (!state.dirty) {
        clearDraft(graphId);
        return;
      }
      writeDraft(graphId, {
        document: state.toDocument(),
        baseVersionId: useVersions.getState().baseVersionId,
        savedAt: new Date().toISOString(),
      });
    };
    const timer = window.setTimeout(flush, DRAFT_DELAY_MS);
    window.addEventListener("pagehide", flush);
    return () => {
      window.clearTimeout(timer);
      window.removeEventListener("pagehide", flush);
    };
  }, [graphId, edits, dirty]);

  useEffect(() => {
    if (!dirty) return;
    const warn = (event: BeforeUnloadEvent) => {
      event.preventDefault();
      // Older browsers show the prompt only when returnValue is set.
      event.returnValue = "";
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);
}
