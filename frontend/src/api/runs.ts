import { api, unwrap } from "./client";
import { type Paginated, idParam, type Refine, type ResourceId, type Schemas } from "./types";

export type RunStatus = Schemas["TrainingRun"]["status"];

export const TERMINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(["succeeded", "failed", "cancelled"]);

/** What a run request may say; every field is optional and takes its default on the server. */
export type RunConfigRequest = Schemas["RunConfigRequest"];

/** A run's configuration as the server answers it: defaults filled in. */
export type RunConfig = Schemas["RunConfig"];

type Metrics = Record<string, unknown> | null;

// schema gap: plan, progress, the metrics and error are JSON fields declared as any value.
export type TrainingRun = Refine<
  Schemas["TrainingRun"],
  {
    /** The checks' results at creation: classes, input resize, memory estimate, FLOPs, parameters. */
    readonly plan: RunPlan | null;
    readonly progress: Metrics;
    readonly metrics: Metrics;
    readonly best_metrics: Metrics;
    readonly test_metrics: Metrics;
    readonly error: { code?: string; message?: string } | null;
  }
>;

/** A run as listed (no config, plan or per-epoch detail). */
// schema gap: `metrics` is a JSON field declared as any value.
export type TrainingRunListItem = Refine<Schemas["TrainingRunList"], { readonly metrics: Metrics }>;

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

// schema gap: plan is declared as any value.
export type RunEstimate = Refine<Schemas["RunEstimate"], { plan: RunPlan }>;

/** A run event as stored (REST history) or streamed (WebSocket); `data` holds the payload. */
// schema gap: `data` is a JSON field declared as any value.
export type StoredRunEvent = Refine<Schemas["RunEvent"], { readonly data: Record<string, unknown> }>;

export type RunCreateInput = Schemas["RunCreateRequest"];

export async function createRun(input: RunCreateInput): Promise<TrainingRun> {
  return (await unwrap(api.POST("/api/v1/runs/", { body: input }))) as TrainingRun;
}

/** The checks and plan creating this run would make, creating nothing. */
export async function estimateRun(input: RunCreateInput, signal?: AbortSignal): Promise<RunEstimate> {
  return (await unwrap(api.POST("/api/v1/runs/estimate/", { body: input, signal }))) as RunEstimate;
}

export async function listRuns(project: ResourceId, signal?: AbortSignal): Promise<Paginated<TrainingRunListItem>> {
  const query = { project: idParam(project), ordering: "-created_at", page_size: 50 };
  return (await unwrap(api.GET("/api/v1/runs/", { params: { query }, signal }))) as Paginated<TrainingRunListItem>;
}

export async function getRun(id: ResourceId, signal?: AbortSignal): Promise<TrainingRun> {
  return (await unwrap(api.GET("/api/v1/runs/{id}/", { params: { path: { id: idParam(id) } }, signal }))) as TrainingRun;
}

export async function cancelRun(id: number): Promise<TrainingRun> {
  return (await unwrap(api.POST("/api/v1/runs/{id}/cancel/", { params: { path: { id } } }))) as TrainingRun;
}

export async function resumeRun(id: number): Promise<TrainingRun> {
  return (await unwrap(api.POST("/api/v1/runs/{id}/resume/", { params: { path: { id } } }))) as TrainingRun;
}

export async function getRunEvents(id: number, after = 0, signal?: AbortSignal): Promise<StoredRunEvent[]> {
  const params = { path: { id }, query: { after, limit: 5000 } };
  return (await unwrap(api.GET("/api/v1/runs/{id}/events/", { params, signal }))) as StoredRunEvent[];
}
