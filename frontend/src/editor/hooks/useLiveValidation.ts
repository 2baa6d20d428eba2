import { useEffect } from "react";

import { ApiError } from "../../api/client";
import { validateDocument } from "../../api/validation";
import { useGraph } from "../stores/graphStore";
import { useValidation } from "../stores/validationStore";

export const VALIDATE_DELAY_MS = 300;

/**
 * Validates the document on the server after every edit that matters (debounced), aborting the
 * request of an edit that was superseded, so only the newest answer is ever shown.
 */
export function useLiveValidation(enabled = true): void {
  const revision = useGraph((s) => s.revision);
  const batchSize = useValidation((s) => s.batchSize);

  useEffect(() => {
    if (!enabled) return;
    const controller = new AbortController();
    const { setValidating, setReport, setFailed } = useValidation.getState();
    setValidating();
    const timer = window.setTimeout(() => {
      validateDocument(useGraph.getState().toDocument(), batchSize, controller.signal).then(
        (report) => {
          if (!controller.signal.aborted) setReport(report);
        },
        (error: unknown) => {
          if (controller.signal.aborted) return;
          setFailed(error instanceof ApiError ? error.message : "Validation failed.");
        },
      );
    }, VALIDATE_DELAY_MS);
    return () => {
      window.clearTimeout(timer);
      controller.abort();
    };
  }, [revision, batchSize, enabled]);
}
