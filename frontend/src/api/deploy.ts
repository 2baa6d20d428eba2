import { api, unwrap } from "./client";
import type { operations } from "./schema";
import { type Paginated, idParam, type Refine, type ResourceId, type Schemas } from "./types";

export type JobStatus = Schemas["ModelVariant"]["status"];

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

export interface CompressionReport {
  before?: ReportSide;
  after?: ReportSide;
  ratios?: Record<string, number>;
  [key: string]: unknown;
}

// schema gap: card and report are JSON fields declared as any value.
export type ModelVariant = Refine<Schemas["ModelVariant"], { card: ModelCard | null; readonly report: CompressionReport | null }>;

export type ExportFormat = Schemas["ExportRequestRequest"]["format"];

export interface ExportVerification {
  max_abs_diff?: number;
  tolerance?: number;
  samples?: number;
  samples_source?: string;
  passed?: boolean;
}

// schema gap: `format` is declared a plain string (it is a FormatEnum); `verification` is a JSON
// field declared as any value.
export type ModelExport = Refine<Schemas["ModelExport"], { readonly format: ExportFormat; readonly verification: ExportVerification | null }>;

export interface DeploymentMetrics {
  requests?: number;
  errors?: number;
  latency_ms?: { p50: number | null; p95: number | null; p99: number | null };
}

// schema gap: `metrics` is declared as any object.
export type Deployment = Refine<Schemas["Deployment"], { readonly metrics: DeploymentMetrics }>;

/** A model that is still being made (pruned, quantized) comes with an empty card (`{}`): no card yet. */
function withCard(loose: LooseVariant): ModelVariant {
  const model = loose as ModelVariant;
  return model.card && Array.isArray(model.card.inputs) ? model : { ...model, card: null };
}

type LooseVariant = Schemas["ModelVariant"];

export async function modelFromRun(run: number): Promise<ModelVariant> {
  return withCard(await unwrap(api.POST("/api/v1/models/", { body: { run } })));
}

export async function listModels(project: ResourceId, signal?: AbortSignal): Promise<Paginated<ModelVariant>> {
  const query = { project: idParam(project), page_size: 100 };
  const page = (await unwrap(api.GET("/api/v1/models/", { params: { query }, signal }))) as Paginated<LooseVariant>;
  return { ...page, results: page.results.map(withCard) };
}

export async function getModel(id: ResourceId, signal?: AbortSignal): Promise<ModelVariant> {
  return withCard(await unwrap(api.GET("/api/v1/models/{id}/", { params: { path: { id: idParam(id) } }, signal })));
}

export async function pruneModel(id: number, config: Record<string, unknown>): Promise<ModelVariant> {
  return withCard(await unwrap(api.POST("/api/v1/models/{id}/prune/", { params: { path: { id } }, body: { config } })));
}

export type QuantizeMode = NonNullable<Schemas["QuantizeRequestRequest"]["mode"]>;

export async function quantizeModel(id: number, mode: QuantizeMode): Promise<ModelVariant> {
  return withCard(await unwrap(api.POST("/api/v1/models/{id}/quantize/", { params: { path: { id } }, body: { mode } })));
}

export async function exportModel(id: number, format: ExportFormat): Promise<ModelExport> {
  return (await unwrap(api.POST("/api/v1/models/{id}/exports/", { params: { path: { id } }, body: { format } }))) as ModelExport;
}

export async function listExports(model: number, signal?: AbortSignal): Promise<Paginated<ModelExport>> {
  const query = { variant: model, page_size: 100 };
  return (await unwrap(api.GET("/api/v1/exports/", { params: { query }, signal }))) as Paginated<ModelExport>;
}

export async function listDeployments(project: ResourceId, signal?: AbortSignal): Promise<Paginated<Deployment>> {
  const query = { project: idParam(project), page_size: 100 };
  return (await unwrap(api.GET("/api/v1/deployments/", { params: { query }, signal }))) as Paginated<Deployment>;
}

export async function getDeployment(id: number, signal?: AbortSignal): Promise<Deployment> {
  return (await unwrap(api.GET("/api/v1/deployments/{id}/", { params: { path: { id } }, signal }))) as Deployment;
}

export async function deploy(model: number, name: string): Promise<{ deployment: Deployment; api_key: string }> {
  const answer = await unwrap(api.POST("/api/v1/deployments/", { body: { model, name } }));
  return answer as { deployment: Deployment; api_key: string };
}

export async function undeploy(id: number): Promise<Deployment> {
  return (await unwrap(api.DELETE("/api/v1/deployments/{id}/", { params: { path: { id } } }))) as Deployment;
}

export type EngineExportQuery = operations["deployments_export_retrieve"]["parameters"]["query"];
export type EngineTarget = EngineExportQuery["target"];
export type KServeRuntime = NonNullable<EngineExportQuery["runtime"]>;

/**
 * A live deployment for another serving engine, built from the ONNX model it serves: a Triton
 * model repository (zip) or a KServe InferenceService (YAML).
 *
 * @throws ApiError naming the query field that is wrong (`storage_uri`, `runtime`...).
 */
export async function exportForEngine(id: number, query: EngineExportQuery): Promise<Blob> {
  const call = api.GET("/api/v1/deployments/{id}/export/", { params: { path: { id }, query }, parseAs: "blob" });
  return (await unwrap(call)) as Blob;
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
  /** What the input's geometry had to say (a DICOM series: irregular positions resampled...), as the ingest says it. */
  warnings?: { code: string; message: string }[];
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
 * `POST {url}/predict` with the model's own preprocessing on the server: a file (PNG/JPEG, DICOM
 * slice, zip of one DICOM series, NIfTI) as a one-part multipart upload, or a table row as `{"row": {...}}`.
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
