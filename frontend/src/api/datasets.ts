import { api, unwrap } from "./client";
import { type Full, type Paginated, idParam, type Refine, type ResourceId, type Schemas } from "./types";

export type DatasetKind = Schemas["Dataset"]["kind"];
export type DatasetStatus = Schemas["DatasetVersion"]["status"];

export interface DatasetVersionRef {
  id: number;
  number: number;
  status: DatasetStatus;
  /** classification, regression or segmentation: what a run on it must train for ("" before the ingest read it). */
  task: string;
  sample_count: number;
  skipped_total: number;
  created_at: string;
}

// schema gap: `latest_version` is declared as any object; it is a DatasetVersionRef.
export type Dataset = Refine<Full<Schemas["Dataset"]>, { readonly latest_version: DatasetVersionRef | null }>;

export interface IngestProgress {
  phase?: string;
  done?: number;
  total?: number;
}

export interface SkippedFile {
  file: string;
  code: string;
  reason: string;
}

export interface DatasetStats {
  samples?: number;
  sample_shape?: number[];
  cache_bytes?: number;
  split_counts?: Record<string, number>;
  class_counts?: Record<string, Record<string, number>>;
  class_totals?: Record<string, number>;
  thumbnails?: Record<string, number[]>;
  [key: string]: unknown;
}

/** The JSON fields of a dataset version, which the schema declares as any value. */
interface DatasetVersionJson {
  readonly upload: string | null;
  readonly progress: IngestProgress | null;
  readonly error: { code: string; reason: string; file: string } | null;
  readonly classes: string[];
}

// schema gap: progress, error, skipped, classes, stats and recipe are JSON fields declared as any
// value; `upload` is declared a UUID but is null for a version made from a sample dataset.
export type DatasetVersion = Refine<
  Schemas["DatasetVersion"],
  DatasetVersionJson & { readonly skipped?: SkippedFile[]; readonly stats?: DatasetStats; readonly recipe?: Record<string, unknown> }
>;

/** A version as listed (no skipped files, stats or recipe). */
export type DatasetVersionListItem = Refine<Schemas["DatasetVersionList"], DatasetVersionJson>;

/** One of the sample datasets the server ships (GET /datasets/sample-catalog/). */
// schema gap: `id` and `kind` are declared plain strings; they are a SampleEnum and a DatasetKind.
export type SampleEntry = Refine<Schemas["SampleDataset"], { id: Schemas["SampleEnum"]; kind: DatasetKind }>;

export type DatasetSample = Schemas["DatasetSample"];

/** An ingest that will not change any more (the job lifecycle shared by every background job). */
export const FINISHED_STATUSES: ReadonlySet<DatasetStatus> = new Set(["succeeded", "failed", "cancelled"]);

/** Whether a version can be trained on: its ingest succeeded (with or without skipped files). */
export function isUsable(status: DatasetStatus): boolean {
  return status === "succeeded";
}

/**
 * Succeeded, but some files were skipped. A full version says so (`has_warnings`); the reference
 * in a dataset list does not carry the flag, and the server derives it from the same two fields.
 */
export function hasWarnings(version: { status: DatasetStatus; skipped_total: number; has_warnings?: boolean }): boolean {
  return version.has_warnings ?? (version.status === "succeeded" && version.skipped_total > 0);
}

const STATUS_TEXT: Record<DatasetStatus, string> = {
  queued: "Queued",
  running: "Ingesting",
  succeeded: "Ready",
  failed: "Failed",
  cancelled: "Cancelled",
};

/** A version's state in words: "Ready, with warnings" when it succeeded but skipped files. */
export function statusText(status: DatasetStatus, warnings: boolean): string {
  return status === "succeeded" && warnings ? "Ready, with warnings" : STATUS_TEXT[status];
}

export async function listDatasets(project: ResourceId, signal?: AbortSignal): Promise<Paginated<Dataset>> {
  const query = { project: idParam(project), page_size: 100, ordering: "-created_at" };
  return (await unwrap(api.GET("/api/v1/datasets/", { params: { query }, signal }))) as Paginated<Dataset>;
}

export async function createDataset(input: Schemas["DatasetRequest"]): Promise<Dataset> {
  return (await unwrap(api.POST("/api/v1/datasets/", { body: input }))) as Dataset;
}

export async function listSampleCatalog(signal?: AbortSignal): Promise<SampleEntry[]> {
  return (await unwrap(api.GET("/api/v1/datasets/sample-catalog/", { signal }))) as SampleEntry[];
}

export async function createFromSample(project: number, sample: SampleEntry["id"]): Promise<DatasetVersion> {
  return (await unwrap(api.POST("/api/v1/datasets/from-sample/", { body: { project, sample } }))) as DatasetVersion;
}

export async function ingestUpload(dataset: number, upload: string, options: Record<string, unknown> = {}): Promise<DatasetVersion> {
  const answer = await unwrap(api.POST("/api/v1/datasets/{id}/versions/", { params: { path: { id: dataset } }, body: { upload, options } }));
  return answer as DatasetVersion;
}

export async function listDatasetVersions(dataset: ResourceId, signal?: AbortSignal): Promise<Paginated<DatasetVersionListItem>> {
  const params = { path: { id: idParam(dataset) }, query: { page_size: 100 } };
  return (await unwrap(api.GET("/api/v1/datasets/{id}/versions/", { params, signal }))) as Paginated<DatasetVersionListItem>;
}

export async function getDatasetVersion(id: ResourceId, signal?: AbortSignal): Promise<DatasetVersion> {
  return (await unwrap(api.GET("/api/v1/dataset-versions/{id}/", { params: { path: { id: idParam(id) } }, signal }))) as DatasetVersion;
}

export async function listSamples(version: number, page: number, signal?: AbortSignal): Promise<Paginated<DatasetSample>> {
  const params = { path: { id: version }, query: { page, page_size: 24 } };
  return (await unwrap(api.GET("/api/v1/dataset-versions/{id}/samples/", { params, signal }))) as Paginated<DatasetSample>;
}

export type WindowPreset = "lung" | "mediastinum" | "bone" | "brain";

export function previewUrl(version: number, index: number, options: { window?: WindowPreset; slice?: number; size?: number } = {}): string {
  const params = new URLSearchParams();
  if (options.window) params.set("window", options.window);
  if (options.slice !== undefined) params.set("slice", String(options.slice));
  if (options.size !== undefined) params.set("size", String(options.size));
  const query = params.toString();
  return `/api/v1/dataset-versions/${version}/samples/${index}/preview/${query ? `?${query}` : ""}`;
}

/** A graph made for a dataset version (or a new version of one), and notes of what was changed. */
export type BuiltModel = Schemas["BuiltModel"];
/** Whether a graph version's input takes a dataset version's samples as they are. */
export type InputCheck = Schemas["InputCheck"];

/** A new graph whose first version is the closest template adapted to this data. */
export async function buildModel(version: ResourceId, name = ""): Promise<BuiltModel> {
  const params = { path: { id: idParam(version) } };
  return (await unwrap(api.POST("/api/v1/dataset-versions/{id}/build-model/", { params, body: { name } }))) as BuiltModel;
}

export async function checkInput(version: ResourceId, graphVersion: number, signal?: AbortSignal): Promise<InputCheck> {
  const params = { path: { id: idParam(version) }, query: { graph_version: graphVersion } };
  return (await unwrap(api.GET("/api/v1/dataset-versions/{id}/adapt-graph/", { params, signal }))) as InputCheck;
}

/** A new version of the graph with its input adapted to this data; the given version stays. */
export async function adaptGraph(version: ResourceId, graphVersion: number): Promise<BuiltModel> {
  const params = { path: { id: idParam(version) } };
  const body = { graph_version: graphVersion };
  return (await unwrap(api.POST("/api/v1/dataset-versions/{id}/adapt-graph/", { params, body }))) as BuiltModel;
}
