import { apiRequest } from "./client";
import type { Paginated, ResourceId } from "./types";

export type JobStatus = "queued" | "running" | "succeeded" | "failed";

export interface TensorSpec {
  name: string;
  datatype: string;
  shape: number[];
  preprocessing?: Record<string, unknown>;
}

export interface ModelCard {
  name: string;
  task: string;
  classes: string[];
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  metrics: Record<string, unknown>;
  [key: string]: unknown;
}

export interface ReportSide {
  params?: number;
  flops?: number;
  file_bytes?: number;
  latency_ms?: number;
  accuracy?: number | null;
  [key: string]: unknown;
}

export interface ModelVariant {
  id: number;
  project: number;
  kind: "trained" | "pruned" | "quantized";
  name: string;
  run: number | null;
  parent: number | null;
  graph_version: number | null;
  status: JobStatus;
  card: ModelCard | null;
  report: { before?: ReportSide; after?: ReportSide; ratios?: Record<string, number>; [key: string]: unknown } | null;
  error: unknown;
  created_at: string;
}

export type ExportFormat = "onnx" | "torchscript" | "bundle" | "pytorch_source";

export interface ModelExport {
  id: number;
  model: number;
  format: ExportFormat;
  status: JobStatus;
  verification: { max_abs_diff?: number; tolerance?: number; samples?: number; samples_source?: string; passed?: boolean } | null;
  error: unknown;
  download: string | null;
}

export interface DeploymentMetrics {
  requests?: number;
  errors?: number;
  latency_ms?: { p50: number | null; p95: number | null; p99: number | null };
}

export interface Deployment {
  id: number;
  project: number;
  model: number;
  name: string;
  version: string | number;
  status: "deploying" | "ready" | "failed" | "stopped";
  url: string;
  error: unknown;
  metrics: DeploymentMetrics;
  created_at: string;
}

/** A model that is still being made (pruned, quantized) comes with an empty card (`{}`): no card yet. */
function withCard(model: ModelVariant): ModelVariant {
  return model.card && Array.isArray(model.card.inputs) ? model : { ...model, card: null };
}

export async function modelFromRun(run: number): Promise<ModelVariant> {
  return withCard(await apiRequest<ModelVariant>("/api/v1/models/", { method: "POST", body: { run } }));
}

export async function listModels(project: ResourceId, signal?: AbortSignal): Promise<Paginated<ModelVariant>> {
  const page = await apiRequest<Paginated<ModelVariant>>("/api/v1/models/", { query: { project, page_size: 100 }, signal });
  return { ...page, results: page.results.map(withCard) };
}

export async function getModel(id: ResourceId, signal?: AbortSignal): Promise<ModelVariant> {
  return withCard(await apiRequest<ModelVariant>(`/api/v1/models/${id}/`, { signal }));
}

export async function pruneModel(id: number, config: Record<string, unknown>): Promise<ModelVariant> {
  return withCard(await apiRequest<ModelVariant>(`/api/v1/models/${id}/prune/`, { method: "POST", body: { config } }));
}

export async function quantizeModel(id: number, mode: string): Promise<ModelVariant> {
  return withCard(await apiRequest<ModelVariant>(`/api/v1/models/${id}/quantize/`, { method: "POST", body: { mode } }));
}

export function exportModel(id: number, format: ExportFormat): Promise<ModelExport> {
  return apiRequest(`/api/v1/models/${id}/exports/`, { method: "POST", body: { format } });
}

export function listExports(model: number, signal?: AbortSignal): Promise<Paginated<ModelExport>> {
  return apiRequest("/api/v1/exports/", { query: { variant: model, page_size: 100 }, signal });
}

export function listDeployments(project: ResourceId, signal?: AbortSignal): Promise<Paginated<Deployment>> {
  return apiRequest("/api/v1/deployments/", { query: { project, page_size: 100 }, signal });
}

export function getDeployment(id: number, signal?: AbortSignal): Promise<Deployment> {
  return apiRequest(`/api/v1/deployments/${id}/`, { signal });
}

export function deploy(model: number, name: string): Promise<{ deployment: Deployment; api_key: string }> {
  return apiRequest("/api/v1/deployments/", { method: "POST", body: { model, name } });
}

export function undeploy(id: number): Promise<Deployment> {
  return apiRequest(`/api/v1/deployments/${id}/`, { method: "DELETE" });
}

export interface InferResponse {
  outputs: { name: string; shape: number[]; datatype: string; data: number[] }[];
}

/** Calls the deployed endpoint the way any client would: Bearer key, JSON tensors. */
export async function infer(url: string, apiKey: string, input: TensorSpec & { data: number[] }): Promise<InferResponse> {
  let response: Response;
  try {
    response = await fetch(`${url}/infer`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ inputs: [{ name: input.name, shape: input.shape, datatype: input.datatype, data: input.data }] }),
      credentials: "omit",
    });
  } catch {
    throw new Error("Could not reach the endpoint. Check your connection and try again.");
  }
  const body = (await response.json().catch(() => ({}))) as { error?: string } & Partial<InferResponse>;
  if (!response.ok) throw new Error(body.error ?? `The endpoint answered ${response.status}.`);
  return body as InferResponse;
}

/** What `predict` answers: a class with its probabilities (highest first), or a regressor's value. */
export interface PredictResponse {
  label?: string;
  probabilities?: Record<string, number>;
  value?: number;
  samples?: number;
}

/** A refusal from the endpoint; `field` names the part it refused (`file`, `body`, `row.<column>`). */
export class PredictError extends Error {
  override readonly name = "PredictError";
  constructor(
    readonly status: number,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
  }
}

export type TableRow = Record<string, string | number | null>;

/**
 * `POST {url}/predict` with the model's own preprocessing on the server: a file (PNG/JPEG, DICOM,
 * NIfTI) as a one-part multipart upload, or a table row as `{"row": {...}}`.
 *
 * @throws PredictError with the server's message and the part it named, or a network message.
 */
export async function predict(url: string, apiKey: string, input: Blob | TableRow, filename = "upload"): Promise<PredictResponse> {
  const headers: Record<string, string> = { Authorization: `Bearer ${apiKey}` };
  let body: BodyInit;
  if (input instanceof Blob) {
    const form = new FormData();
    form.append("file", input, input instanceof File ? input.name : filename);
    body = form;
  } else {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify({ row: input });
  }
  let response: Response;
  try {
    response = await fetch(`${url}/predict`, { method: "POST", headers, body, credentials: "omit" });
  } catch {
    throw new PredictError(0, "Could not reach the endpoint. Check your connection and try again.");
  }
  const answer = (await response.json().catch(() => ({}))) as PredictResponse & { error?: string; field?: string };
  if (!response.ok) {
    const fallback = response.status === 401 || response.status === 403 ? "The API key was not accepted." : `The endpoint answered ${response.status}.`;
    throw new PredictError(response.status, answer.error ?? fallback, answer.field ?? null);
  }
  return answer;
}
