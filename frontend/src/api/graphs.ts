import type { UserRef } from "./auth";
import { apiRequest } from "./client";
import { type Paginated, type ResourceId, resourcePath } from "./types";

/** The newest saved version of a graph, as listed with the graph. */
export interface GraphVersionSummary {
  id: number;
  /** 1, 2, 3… per graph. */
  number: number;
  message: string;
  is_valid: boolean;
  created_at: string;
}

export interface Graph {
  id: number;
  project: number;
  name: string;
  description: string;
  created_by: UserRef | null;
  created_at: string;
  updated_at: string;
  latest_version: GraphVersionSummary | null;
}

export interface GraphInput {
  project: number;
  name: string;
  description: string;
}

const GRAPHS = "/api/v1/graphs/";

export function listGraphs(
  project: ResourceId,
  page?: number,
  signal?: AbortSignal,
): Promise<Paginated<Graph>> {
  return apiRequest(GRAPHS, { query: { project, page }, signal });
}

export function createGraph(input: GraphInput): Promise<Graph> {
  return apiRequest(GRAPHS, { method: "POST", body: input });
}

export function getGraph(id: ResourceId, signal?: AbortSignal): Promise<Graph> {
  return apiRequest(resourcePath(GRAPHS, id), { signal });
}
