/**
 * The model market under /api/v1/market/: entries and their versions, publish, search, stars,
 * forks into projects, bundle export and import, and importing torchvision weights.
 */
import type { GraphDocument } from "../editor/model/document";
import { ApiError, apiRequest, csrfToken } from "./client";
import type { TensorSpec } from "./deploy";
import type { Paginated, ResourceId } from "./types";

export type Visibility = "private" | "organization" | "public";
export type EntryKind = "model" | "template";
export type MarketSort = "recent" | "accuracy" | "size" | "-size" | "popularity" | "stars" | "downloads";

export const VISIBILITIES: readonly Visibility[] = ["private", "organization", "public"];

export interface InputContract {
  inputs?: TensorSpec[];
  outputs?: TensorSpec[];
  preprocessing?: Record<string, unknown>;
}

export interface MarketEntry {
  id: number;
  title: string;
  description: string;
  kind: EntryKind;
  task: string;
  modality: string;
  classes: string[];
  input_contract: InputContract;
  licence: string;
  /** The author's username. */
  author: string;
  project: number | null;
  visibility: Visibility;
  stars: number;
  forks: number;
  downloads: number;
  latest_params: number;
  latest_flops: number;
  latest_accuracy: number | null;
  latest_version: number | null;
  starred: boolean;
  created_at: string;
  updated_at: string;
}

export interface MarketVersionSummary {
  id: number;
  entry: number;
  number: number;
  has_weights: boolean;
  weights_sha256: string;
  metrics: Record<string, unknown>;
  metrics_dataset: Record<string, unknown>;
  params: number;
  flops: number;
  registry_version: number;
  source_artifact: number | null;
  source_graph_version: number | null;
  changelog: string;
  created_by: string | null;
  created_at: string;
}

export interface MarketVersion extends MarketVersionSummary {
  card: Record<string, unknown>;
  document: GraphDocument;
}

export interface MarketEntryDetail extends MarketEntry {
  /** Newest first. */
  versions: MarketVersionSummary[];
}

export interface MarketFork {
  id: number;
  version: number;
  project: number;
  graph: number;
  graph_version: number;
  has_weights: boolean;
  weights_sha256: string;
  created_at: string;
}

/** What the list can be searched and sorted by (GET /market/entries/). */
export interface MarketQuery {
  q?: string;
  task?: string;
  modality?: string;
  kind?: EntryKind | "";
  min_params?: number;
  max_params?: number;
  /** 0–1. */
  min_accuracy?: number;
  sort?: MarketSort;
  page?: number;
}

/** Exactly one source: a finished run with a trained model, or a graph version as a template. */
export type PublishSource = { run: number } | { graph_version: number };

export interface PublishFields {
  title?: string;
  description?: string;
  task?: string;
  modality?: string;
  licence?: string;
  visibility?: Visibility;
  changelog?: string;
}

const ENTRIES = "/api/v1/market/entries/";
const VERSIONS = "/api/v1/market/versions/";
export const MARKET_PAGE_SIZE = 12;

export function listEntries(query: MarketQuery, signal?: AbortSignal): Promise<Paginated<MarketEntry>> {
  return apiRequest(ENTRIES, { query: { ...query, page_size: MARKET_PAGE_SIZE }, signal });
}

/** Up to 200 entries of one kind (the API's largest page), for pickers. */
export function listEntriesOfKind(kind: EntryKind, signal?: AbortSignal): Promise<Paginated<MarketEntry>> {
  return apiRequest(ENTRIES, { query: { kind, page_size: 200 }, signal });
}

export function getEntry(id: ResourceId, signal?: AbortSignal): Promise<MarketEntryDetail> {
  return apiRequest(`${ENTRIES}${encodeURIComponent(String(id))}/`, { signal });
}

export function getMarketVersion(id: number, signal?: AbortSignal): Promise<MarketVersion> {
  return apiRequest(`${VERSIONS}${id}/`, { signal });
}

/** Publishes a new entry; the answer is the entry with its first version. */
export function publishEntry(source: PublishSource, fields: PublishFields): Promise<MarketEntryDetail> {
  return apiRequest(ENTRIES, { method: "POST", body: { ...source, ...fields } });
}

/** Publishes the next version of an entry the user authors. */
export function publishVersion(entry: number, source: PublishSource, fields: PublishFields): Promise<MarketVersion> {
  return apiRequest(`${ENTRIES}${entry}/versions/`, { method: "POST", body: { ...source, ...fields } });
}

export function updateEntry(entry: number, fields: PublishFields): Promise<MarketEntryDetail> {
  return apiRequest(`${ENTRIES}${entry}/`, { method: "PATCH", body: fields });
}

export function setStar(entry: number, starred: boolean): Promise<MarketEntry> {
  return apiRequest(`${ENTRIES}${entry}/star/`, { method: starred ? "POST" : "DELETE" });
}

export function forkVersion(version: number, project: number, name = ""): Promise<MarketFork> {
  return apiRequest(`${VERSIONS}${version}/fork/`, { method: "POST", body: { project, name } });
}

/** The URL that downloads a version's bundle (a zip); the browser sends the session cookie. */
export function bundleUrl(version: number): string {
  return `${VERSIONS}${version}/bundle/`;
}

/**
 * Uploads a bundle as a new entry of the user's.
 *
 * @throws ApiError with the server's refusal under `fieldErrors.file`.
 */
export function importBundle(file: File, visibility: Visibility, project?: number): Promise<MarketEntryDetail> {
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("visibility", visibility);
  if (project !== undefined) form.append("project", String(project));
  return postForm("/api/v1/market/import/", form);
}

/** What POST /market/import-torchvision/ takes besides the weights file. */
export interface TorchvisionImportFields {
  /** One of GET /templates/'s `torchvision` names. */
  architecture: string;
  input_size: number;
  /** Left out: the head in the weights decides. */
  num_classes?: number;
  /** One per output, in order; empty: none. */
  classes: readonly string[];
  title: string;
  description: string;
  licence: string;
  visibility: Visibility;
  /** Needed for organization visibility. */
  project?: number;
}

/**
 * Publishes a torchvision architecture with the weights in `weights` (.safetensors, or a PyTorch
 * checkpoint) as a new trained-model entry of the user's.
 *
 * @throws ApiError with each refusal under the field it concerns (`weights`, `architecture`, ...).
 */
export function importTorchvision(weights: File, fields: TorchvisionImportFields): Promise<MarketEntryDetail> {
  const form = new FormData();
  form.append("weights", weights, weights.name);
  const { classes, ...rest } = fields;
  const scalars: Record<string, string | number | undefined> = rest;
  for (const [name, value] of Object.entries(scalars)) if (value !== undefined) form.append(name, String(value));
  // A list goes as the same name repeated, which DRF's ListField reads from a multipart form.
  for (const name of classes) form.append("classes", name);
  return postForm("/api/v1/market/import-torchvision/", form);
}

// Multipart, so not through `apiRequest` (which sends JSON); the browser sets the boundary.
async function postForm(path: string, form: FormData): Promise<MarketEntryDetail> {
  let response: Response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: { Accept: "application/json", "X-CSRFToken": await csrfToken() },
      body: form,
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, "Could not reach the server. Check your connection and try again.");
  }
  const body = (await response.json().catch(() => null)) as unknown;
  if (!response.ok) throw ApiError.fromBody(response.status, body);
  return body as MarketEntryDetail;
}

const REFUSALS: readonly [RegExp, string][] = [
  [/does not match the SHA-256/, "The bundle was changed after it was exported: a file no longer matches its checksum."],
  [/uses layer types this installation does not have/, "The model uses layers this installation does not have."],
  [/not a zip archive/, "This file is not a market bundle (it is not a zip archive)."],
  [/does not fit graph\.json/, "The weights in the bundle do not fit its graph."],
  [/not a readable safetensors/, "The weights in the bundle cannot be read."],
  [/unexpected file|unsafe path/, "The bundle holds files a market bundle must not hold."],
  [/layer registry version|bundle_version/, "The bundle was made by a newer version of Visual Model Builder."],
  [/has no |lists .* but the bundle has no/, "The bundle is incomplete."],
];

/** A refused import in words a person understands, followed by the server's exact reason. */
export function describeImportError(error: unknown): string {
  if (!(error instanceof ApiError)) return error instanceof Error ? error.message : "The bundle could not be imported.";
  const reasons = error.fieldErrors.file ?? [];
  if (reasons.length === 0) return error.message;
  const reason = reasons.join(" ");
  const lead = REFUSALS.find(([pattern]) => pattern.test(reason))?.[1] ?? "The bundle was refused.";
  return `${lead} Nothing was imported. (${reason})`;
}
