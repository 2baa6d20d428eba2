import type { UserRef } from "./auth";
import { apiRequest } from "./client";
import type { Paginated } from "./types";
import type { GraphDocument } from "../editor/model/document";
import type { ValidationReport } from "./validation";

export interface GraphVersionListItem {
  id: number;
  graph: number;
  number: number;
  message: string;
  author: UserRef | null;
  parent: number | null;
  is_valid: boolean;
  is_draft: boolean;
  created_at: string;
}

export interface GraphVersion extends GraphVersionListItem {
  document: GraphDocument;
  validation: ValidationReport | Record<string, unknown> | null;
}

export interface GraphSource {
  source: string;
  filename: string;
}

function versionsPath(graphId: number): string {
  return `/api/v1/graphs/${graphId}/versions/`;
}

/** Newest first, up to 200 (the API's largest page). */
export function listVersions(graphId: number, signal?: AbortSignal): Promise<Paginated<GraphVersionListItem>> {
  return apiRequest(versionsPath(graphId), { query: { ordering: "-number", page_size: 200 }, signal });
}

export function getVersion(graphId: number, versionId: number, signal?: AbortSignal): Promise<GraphVersion> {
  return apiRequest(`${versionsPath(graphId)}${versionId}/`, { signal });
}

export function createVersion(
  graphId: number,
  input: { document: GraphDocument; message: string; parent?: number | null },
): Promise<GraphVersion> {
  return apiRequest(versionsPath(graphId), { method: "POST", body: input });
}

/** The standalone PyTorch source of a saved version; 400 (ApiError) for a draft. */
export function getVersionSource(graphId: number, versionId: number, signal?: AbortSignal): Promise<GraphSource> {
  return apiRequest(`${versionsPath(graphId)}${versionId}/source/`, { signal });
}
