/**
 * The model market under /api/v1/market/: entries and their versions, publish, search, stars,
 * forks into projects, bundle export and import, and importing torchvision weights.
 */
import type { GraphDocument } from "../editor/model/document";
import { ApiError, api, csrfToken, unwrap } from "./client";
import type { TensorSpec } from "./deploy";
import { type Full, type Paginated, idParam, type Refine, type ResourceId, type Schemas } from "./types";

export type Visibility = NonNullable<Schemas["MarketEntry"]["visibility"]>;
export type EntryKind = "model" | "template";
export type MarketSort = "recent" | "accuracy" | "size" | "-size" | "popularity" | "stars" | "downloads";

export const VISIBILITIES: readonly Visibility[] = ["private", "organization", "public"];

export interface InputContract {
  inputs?: TensorSpec[];
  outputs?: TensorSpec[];
  preprocessing?: Record<string, unknown>;
}

// schema gap: `kind` is declared a plain string (it is "model" or "template"); `classes` and
// `input_contract` are JSON fields declared as any value.
interface EntryJson {
  readonly kind: EntryKind;
  classes: string[];
  input_contract: InputContract;
}

export type MarketEntry = Refine<Full<Schemas["MarketEntry"]>, EntryJson>;

// schema gap: metrics, metrics_dataset and card are JSON fields declared as any value;
// `document` is a GraphDocument.
interface VersionJson {
  metrics: Record<string, unknown>;
  metrics_dataset: Record<string, unknown>;
}

export type MarketVersionSummary = Refine<Full<Schemas["MarketVersionSummary"]>, VersionJson>;

export type MarketVersion = Refine<Full<Schemas["MarketVersion"]>, VersionJson & { card: Record<string, unknown>; document: GraphDocument }>;

export type MarketEntryDetail = Refine<
  Full<Schemas["MarketEntryDetail"]>,
  EntryJson & {
    /** Newest first. */
    readonly versions: MarketVersionSummary[];
  }
>;

export type MarketFork = Full<Schemas["MarketFork"]>;

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

export type PublishFields = Omit<Schemas["PublishRequest"], "run" | "graph_version">;

const VERSIONS = "/api/v1/market/versions/";
export const MARKET_PAGE_SIZE = 12;

// schema gap: min_params, max_params and min_accuracy are declared as strings (they are numbers).
function numberText(value: number | undefined): string | undefined {
  return value === undefined ? undefined : String(value);
}

export async function listEntries(query: MarketQuery, signal?: AbortSignal): Promise<Paginated<MarketEntry>> {
  const { min_params, max_params, min_accuracy, ...rest } = query;
  const numbers = { min_params: numberText(min_params), max_params: numberText(max_params), min_accuracy: numberText(min_accuracy) };
  const params = { query: { ...rest, ...numbers, page_size: MARKET_PAGE_SIZE } };
  return (await unwrap(api.GET("/api/v1/market/entries/", { params, signal }))) as Paginated<MarketEntry>;
}

/** Up to 200 entries of one kind (the API's largest page), for pickers. */
export async function listEntriesOfKind(kind: EntryKind, signal?: AbortSignal): Promise<Paginated<MarketEntry>> {
  const params = { query: { kind, page_size: 200 } };
  return (await unwrap(api.GET("/api/v1/market/entries/", { params, signal }))) as Paginated<MarketEntry>;
}

export async function getEntry(id: ResourceId, signal?: AbortSignal): Promise<MarketEntryDetail> {
  const params = { path: { id: idParam(id) } };
  return (await unwrap(api.GET("/api/v1/market/entries/{id}/", { params, signal }))) as MarketEntryDetail;
}

export async function getMarketVersion(id: number, signal?: AbortSignal): Promise<MarketVersion> {
  return (await unwrap(api.GET("/api/v1/market/versions/{id}/", { params: { path: { id } }, signal }))) as MarketVersion;
}

/** Publishes a new entry; the answer is the entry with its first version. */
export async function publishEntry(source: PublishSource, fields: PublishFields): Promise<MarketEntryDetail> {
  return (await unwrap(api.POST("/api/v1/market/entries/", { body: { ...source, ...fields } }))) as MarketEntryDetail;
}

/** Publishes the next version of an entry the user authors. */
export async function publishVersion(entry: number, source: PublishSource, fields: PublishFields): Promise<MarketVersion> {
  const params = { path: { id: entry } };
  return (await unwrap(api.POST("/api/v1/market/entries/{id}/versions/", { params, body: { ...source, ...fields } }))) as MarketVersion;
}

export async function updateEntry(entry: number, fields: PublishFields): Promise<MarketEntryDetail> {
  const params = { path: { id: entry } };
  return (await unwrap(api.PATCH("/api/v1/market/entries/{id}/", { params, body: fields }))) as MarketEntryDetail;
}

export async function setStar(entry: number, starred: boolean): Promise<MarketEntry> {
  const params = { path: { id: entry } };
  const call = starred ? api.POST("/api/v1/market/entries/{id}/star/", { params }) : api.DELETE("/api/v1/market/entries/{id}/star/", { params });
  return (await unwrap(call)) as MarketEntry;
}

export async function forkVersion(version: number, project: number, name = ""): Promise<MarketFork> {
  const params = { path: { id: version } };
  return (await unwrap(api.POST("/api/v1/market/versions/{id}/fork/", { params, body: { project, name } }))) as MarketFork;
}

/** The URL that downloads a version's bundle (a zip); the browser sends the session cookie. */
export function bundleUrl(version: number): string {
  return `${VERSIONS}${version}/bundle/`;
}

/**
 * An import job: a worker checks the upload (bundle or torchvision weights) and publishes it.
 * `error.field` is the request field at fault (file, weights, classes, ...).
 */
export type MarketImportJob = Schemas["MarketImport"];

/** One of the user's import jobs, to poll until it has succeeded or failed. */
export async function getImport(id: number, signal?: AbortSignal): Promise<MarketImportJob> {
  return unwrap(api.GET("/api/v1/market/imports/{id}/", { params: { path: { id } }, signal }));
}

/**
 * Uploads a bundle as a new entry of the user's; the answer is the import job that publishes it.
 *
 * @throws ApiError with the server's refusal under `fieldErrors.file`.
 */
export function importBundle(file: File, visibility: Visibility, project?: number): Promise<MarketImportJob> {
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
 * checkpoint) as a new trained-model entry of the user's; the answer is the import job.
 *
 * @throws ApiError with each refusal under the field it concerns (`weights`, `architecture`, ...).
 */
export function importTorchvision(weights: File, fields: TorchvisionImportFields): Promise<MarketImportJob> {
  const form = new FormData();
  form.append("weights", weights, weights.name);
  const { classes, ...rest } = fields;
  const scalars: Record<string, string | number | undefined> = rest;
  for (const [name, value] of Object.entries(scalars)) if (value !== undefined) form.append(name, String(value));
  // A list goes as the same name repeated, which DRF's ListField reads from a multipart form.
  for (const name of classes) form.append("classes", name);
  return postForm("/api/v1/market/import-torchvision/", form);
}

// Multipart, so not through the typed client (which sends JSON); the browser sets the boundary.
async function postForm(path: "/api/v1/market/import/" | "/api/v1/market/import-torchvision/", form: FormData): Promise<MarketImportJob> {
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
  // Multipart, so outside the typed client; the server answers the import job (202).
  return body as MarketImportJob;
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
