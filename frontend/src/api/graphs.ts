import { api, unwrap } from "./client";
import { type Full, type Paginated, idParam, type Refine, type ResourceId, type Schemas } from "./types";

/** The newest saved version of a graph, as listed with the graph. */
export interface GraphVersionSummary {
  id: number;
  /** 1, 2, 3… per graph. */
  number: number;
  message: string;
  is_valid: boolean;
  created_at: string;
}

// schema gap: `latest_version` is declared as any object; it is a GraphVersionSummary.
export type Graph = Refine<Full<Schemas["Graph"]>, { readonly latest_version: GraphVersionSummary | null }>;

export type GraphInput = Schemas["GraphRequest"];

export async function listGraphs(project: ResourceId, page?: number, signal?: AbortSignal): Promise<Paginated<Graph>> {
  const answer = await unwrap(api.GET("/api/v1/graphs/", { params: { query: { project: idParam(project), page } }, signal }));
  return answer as Paginated<Graph>;
}

export async function createGraph(input: GraphInput): Promise<Graph> {
  return (await unwrap(api.POST("/api/v1/graphs/", { body: input }))) as Graph;
}

export async function getGraph(id: ResourceId, signal?: AbortSignal): Promise<Graph> {
  return (await unwrap(api.GET("/api/v1/graphs/{id}/", { params: { path: { id: idParam(id) } }, signal }))) as Graph;
}
