/**
 * A market import is a job: POST /market/import/ and /market/import-torchvision/ answer 202 with
 * it, a worker checks the upload and publishes it, and the page polls
 * GET /market/imports/{id}/ until it has succeeded or failed.
 */
import { ApiError } from "../../api/client";
import { type MarketEntryDetail, type MarketImportJob, getEntry, getImport } from "../../api/market";

export type { MarketImportJob };

const POLL_MS = 500;

const pause = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

/**
 * Polls `job` until it finishes, calling `onProgress` with each state; resolves to the entry it
 * created.
 *
 * @throws ApiError shaped like the request's own 400 (`{[field]: [message]}`) when the job failed,
 * so a refusal reads the same whether the request or the worker made it.
 */
export async function waitForImport(job: MarketImportJob, onProgress: (job: MarketImportJob) => void, signal?: AbortSignal): Promise<MarketEntryDetail> {
  let current = job;
  onProgress(current);
  while (current.status === "queued" || current.status === "running") {
    await pause(POLL_MS, signal);
    current = await getImport(current.id, signal);
    onProgress(current);
  }
  if (current.status === "failed" || current.entry === null) {
    const error = current.error ?? { field: "", message: "The import failed." };
    throw ApiError.fromBody(400, { [error.field || "detail"]: [error.message] });
  }
  return getEntry(current.entry, signal);
}

/** "Checking the weights fit graph.json (75%)". */
export function describeProgress(job: MarketImportJob): string {
  const stage = job.status === "queued" ? "waiting for a worker" : job.stage || "working";
  return `${stage.charAt(0).toUpperCase()}${stage.slice(1)} (${Math.round(job.progress * 100)}%)`;
}
