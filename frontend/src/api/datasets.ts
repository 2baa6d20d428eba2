import { apiRequest } from "./client";
import type { Paginated, ResourceId } from "./types";

export type DatasetKind = "image" | "table" | "text" | "ct_dicom" | "ct_nifti";
export type DatasetStatus = "pending" | "ingesting" | "ready" | "ready_with_warnings" | "failed";

export interface DatasetVersionRef {
  id: number;
  number: number;
  status: DatasetStatus;
  sample_count: number;
  skipped_total: number;
  created_at: string;
}

export interface Dataset {
  id: number;
  project: number;
  name: string;
  description: string;
  kind: DatasetKind;
  created_at: string;
  updated_at: string;
  latest_version: DatasetVersionRef | null;
}

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

export interface DatasetVersion {
  id: number;
  dataset: number;
  number: number;
  source_name: string;
  status: DatasetStatus;
  progress: IngestProgress | null;
  error: { code: string; reason: string; file: string } | null;
  skipped?: SkippedFile[];
  skipped_total: number;
  task: string;
  classes: string[];
  sample_count: number;
  stats?: DatasetStats;
  recipe?: Record<string, unknown>;
  created_at: string;
}

export interface SampleEntry {
  id: string;
  kind: DatasetKind;
  title: string;
}

export interface DatasetSample {
  index: number;
  name: string;
  label: string;
  split: string;
}

export const FINISHED_STATUSES: ReadonlySet<DatasetStatus> = new Set(["ready", "ready_with_warnings", "failed"]);

export function isUsable(status: DatasetStatus): boolean {
  return status === "ready" || status === "ready_with_warnings";
}

export function listDatasets(project: ResourceId, signal?: AbortSignal): Promise<Paginated<Dataset>> {
  return apiRequest("/api/v1/datasets/", { query: { project, page_size: 100, ordering: "-created_at" }, signal });
}

export function createDataset(input: { project: number; name: string; kind: DatasetKind }): Promise<Dataset> {
  return apiRequest("/api/v1/datasets/", { method: "POST", body: input });
}

export function listSampleCatalog(signal?: AbortSignal): Promise<SampleEntry[]> {
  return apiRequest("/api/v1/datasets/sample-catalog/", { signal });
}

export function createFromSample(project: number, sample: string): Promise<DatasetVersion> {
  return apiRequest("/api/v1/datasets/from-sample/", { method: "POST", body: { project, sample } });
}

export function ingestUpload(dataset: number, upload: string, options: Record<string, unknown> = {}): Promise<DatasetVersion> {
  return apiRequest(`/api/v1/datasets/${dataset}/versions/`, { method: "POST", body: { upload, options } });
}

export function listDatasetVersions(dataset: ResourceId, signal?: AbortSignal): Promise<Paginated<DatasetVersion>> {
  return apiRequest(`/api/v1/datasets/${dataset}/versions/`, { query: { page_size: 100 }, signal });
}

export function getDatasetVersion(id: ResourceId, signal?: AbortSignal): Promise<DatasetVersion> {
  return apiRequest(`/api/v1/dataset-versions/${id}/`, { signal });
}

export function listSamples(version: number, page: number, signal?: AbortSignal): Promise<Paginated<DatasetSample>> {
  return apiRequest(`/api/v1/dataset-versions/${version}/samples/`, { query: { page, page_size: 24 }, signal });
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
