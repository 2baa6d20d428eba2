import { apiRequest } from "./client";
import type { Paginated, ResourceId } from "./types";

export type RunStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export const TERMINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(["succeeded", "failed", "cancelled"]);

export interface RunConfig {
  task?: string;
  loss?: string;
  optimizer?: { name: string; lr: number; weight_decay?: number; momentum?: number };
  schedule?: { name: string; step_size?: number; gamma?: number };
  epochs?: number;
  batch_size?: number;
  device?: { kind: string; gpus?: number };
  precision?: { precision_mode: string; threshold?: number };
  [key: string]: unknown;
}

export interface TrainingRun {
  id: number;
  project: number;
  /** The graph the trained version belongs to (absent from the list). */
  graph?: number;
  graph_version: number;
  dataset_version: number;
  resumed_from?: number | null;
  config: RunConfig;
  /** The checks' results at creation: classes, input resize, memory estimate, FLOPs, parameters. */
  plan?: RunPlan | null;
  status: RunStatus;
  cancel_requested?: boolean;
  attempts: number;
  epoch: number | null;
  step: number | null;
  progress?: Record<string, unknown> | null;
  metrics: Record<string, unknown> | null;
  best_metrics?: Record<string, unknown> | null;
  test_metrics?: Record<string, unknown> | null;
  error?: { code?: string; message?: string } | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  has_artifact?: boolean;
}

export interface MemoryEstimate {
  precision: string;
  estimated_bytes: number;
  /** The largest registered device of the requested kind; null when no worker has reported one. */
  device_bytes: number | null;
}

export interface RunPlan {
  classes?: string[];
  resize?: number[] | null;
  flops?: number;
  params?: number;
  memory?: MemoryEstimate;
  [key: string]: unknown;
}

export interface RunEstimate {
  config: RunConfig;
  plan: RunPlan;
}

/** A run event as stored (REST history) or streamed (WebSocket); `data` holds the payload. */
export interface StoredRunEvent {
  id: number;
  type: string;
  data: Record<string, unknown>;
  created_at: string;
}

export interface RunCreateInput {
  graph_version: number;
  dataset_version: number;
  config: RunConfig;
}

const RUNS = "/api/v1/runs/";

export function createRun(input: RunCreateInput): Promise<TrainingRun> {
  return apiRequest(RUNS, { method: "POST", body: input });
}

/** The checks and plan creating this run would make, creating nothing. */
export function estimateRun(input: RunCreateInput, signal?: AbortSignal): Promise<RunEstimate> {
  return apiRequest(`${RUNS}estimate/`, { method: "POST", body: input, signal });
}

export function listRuns(project: ResourceId, signal?: AbortSignal): Promise<Paginated<TrainingRun>> {
  return apiRequest(RUNS, { query: { project, ordering: "-created_at", page_size: 50 }, signal });
}

export function getRun(id: ResourceId, signal?: AbortSignal): Promise<TrainingRun> {
  return apiRequest(`${RUNS}${id}/`, { signal });
}

export function cancelRun(id: number): Promise<TrainingRun> {
  return apiRequest(`${RUNS}${id}/cancel/`, { method: "POST" });
}

export function resumeRun(id: number): Promise<TrainingRun> {
  return apiRequest(`${RUNS}${id}/resume/`, { method: "POST" });
}

export function getRunEvents(id: number, after = 0, signal?: AbortSignal): Promise<StoredRunEvent[]> {
  return apiRequest(`${RUNS}${id}/events/`, { query: { after, limit: 5000 }, signal });
}
