import { useEffect, useState } from "react";

import { ApiError } from "../../api/client";
import { type MemoryEstimate, type RunCreateInput, type RunEstimate, estimateRun } from "../../api/runs";

export const ESTIMATE_DELAY_MS = 500;

export type EstimateState =
  | { status: "idle" }
  | { status: "loading" }
  | { status: "ready"; estimate: RunEstimate }
  | { status: "refused"; messages: string[] };

export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${Math.max(0, Math.round(bytes / 1024))} KiB`;
}

/** One sentence on the training memory a run needs against the largest device that could take it. */
export function memoryText(memory: MemoryEstimate, batchSize: number | undefined): string {
  const need = `Training needs about ${formatBytes(memory.estimated_bytes)}${batchSize ? ` at batch size ${batchSize}` : ""} in ${memory.precision}`;
  if (memory.device_bytes === null) return `${need}; no worker has reported a device of this kind yet.`;
  const share = Math.round((memory.estimated_bytes / memory.device_bytes) * 100);
  return `${need}: ${share}% of the largest device (${formatBytes(memory.device_bytes)}).`;
}

/** The server's refusal as sentences, field names kept so a person knows what to change. */
export function refusalMessages(error: unknown): string[] {
  if (!(error instanceof ApiError)) return [error instanceof Error ? error.message : "Could not check the run."];
  const fields = Object.entries(error.fieldErrors).flatMap(([field, messages]) => messages.map((m) => `${field.replace(/^config\./, "")}: ${m}`));
  return [...(error.detail ? [error.detail] : []), ...fields].slice(0, 4);
}

/**
 * Asks the server what this run would need (`POST /runs/estimate/`), `ESTIMATE_DELAY_MS` after the
 * last change of `body` (null: not ready to ask); an older answer never replaces a newer one.
 */
export function useRunEstimate(body: RunCreateInput | null): EstimateState {
  const [state, setState] = useState<EstimateState>({ status: "idle" });
  const key = body === null ? null : JSON.stringify(body);
  useEffect(() => {
    if (key === null) {
      setState({ status: "idle" });
      return;
    }
    const controller = new AbortController();
    const timer = window.setTimeout(() => {
      setState({ status: "loading" });
      estimateRun(JSON.parse(key) as RunCreateInput, controller.signal).then(
        (estimate) => setState({ status: "ready", estimate }),
        (error: unknown) => {
          if (!controller.signal.aborted) setState({ status: "refused", messages: refusalMessages(error) });
        },
      );
    }, ESTIMATE_DELAY_MS);
    return () => {
      window.clearTimeout(timer);
      controller.abort();
    };
  }, [key]);
  return state;
}
