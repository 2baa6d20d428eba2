import { useEffect } from "react";

import { ApiError } from "../../api/client";
import { validateDocument } from "../../api/validation";
import { useGraph } from "../stores/graphStore";
import { useValidation } from "../stores/validationStore";

/**
 * How long a burst of changes waits before it is checked: typing a batch size sends one request
 * when the typing pauses. A discrete commit to the graph (Enter in a field, a select, a connect,
 * undo/redo, opening a graph) is checked at once: the server answers in about 25 ms.
 */
export const BURST_DELAY_MS = 150;

/**
 * Validates the document on the server after every edit that matters, aborting the request of an
 * edit that was superseded, so only the newest answer is ever shown. A commit's request leaves
 * from the store's own change notification, before React renders the edit, so the render and
 * the round trip overlap.
 */
export function useLiveValidation(enabled = true): void {
  useEffect(() => {
    if (!enabled) return;
    let controller: AbortController | null = null;
    let timer: number | undefined;
    const send = () => {
      const current = new AbortController();
      controller = current;
      const { batchSize, setReport, setFailed } = useValidation.getState();
      validateDocument(useGraph.getState().toDocument(), batchSize, current.signal).then(
        (report) => {
          if (!current.signal.aborted) setReport(report);
        },
        (error: unknown) => {
          if (current.signal.aborted) return;
          setFailed(error instanceof ApiError ? error.message : "Validation failed.");
        },
      );
    };
    const schedule = (delay: number) => {
      window.clearTimeout(timer);
      controller?.abort();
      useValidation.getState().setValidating();
      if (delay === 0) send();
      else timer = window.setTimeout(send, delay);
    };
    schedule(0);
    const stopGraph = useGraph.subscribe((state, previous) => {
      if (state.revision !== previous.revision) schedule(0);
    });
    const stopBatch = useValidation.subscribe((state, previous) => {
      if (state.batchSize !== previous.batchSize) schedule(BURST_DELAY_MS);
    });
    return () => {
      stopGraph();
      stopBatch();
      window.clearTimeout(timer);
      controller?.abort();
    };
  }, [enabled]);
}
