import type { GraphDocument } from "../editor/model/document";
import { api, unwrap } from "./client";
import type { Full, Paginated, Refine, Schemas } from "./types";
import type { ValidationReport } from "./validation";

export type GraphVersionListItem = Full<Schemas["GraphVersionList"]>;

// schema gap: `document` and `validation` are declared as any value; they are a GraphDocument and
// the validation report (or `{}`/null for a version saved before validation ran).
export type GraphVersion = Refine<
  Full<Schemas["GraphVersion"]>,
  { document: GraphDocument; readonly validation: ValidationReport | Record<string, unknown> | null }
>;

export type GraphSource = Schemas["GraphSource"];

function graphPath(graphId: number) {
  return { graph_pk: graphId };
}

/** Newest first, up to 200 (the API's largest page). */
export async function listVersions(graphId: number, signal?: AbortSignal): Promise<Paginated<GraphVersionListItem>> {
  const params = { path: graphPath(graphId), query: { ordering: "-number", page_size: 200 } };
  return (await unwrap(api.GET("/api/v1/graphs/{graph_pk}/versions/", { params, signal }))) as Paginated<GraphVersionListItem>;
}

export async function getVersion(graphId: number, versionId: number, signal?: AbortSignal): Promise<GraphVersion> {
  const path = { ...graphPath(graphId), id: versionId };
  return (await unwrap(api.GET("/api/v1/graphs/{graph_pk}/versions/{id}/", { params: { path }, signal }))) as GraphVersion;
}

export async function createVersion(
  graphId: number,
  input: { document: GraphDocument; message: string; parent?: number | null },
): Promise<GraphVersion> {
  const answer = await unwrap(api.POST("/api/v1/graphs/{graph_pk}/versions/", { params: { path: graphPath(graphId) }, body: input }));
  return answer as GraphVersion;
}

/** The standalone PyTorch source of a saved version; 400 (ApiError) for a draft. */
export function getVersionSource(graphId: number, versionId: number, signal?: AbortSignal): Promise<GraphSource> {
  const path = { ...graphPath(graphId), id: versionId };
  return unwrap(api.GET("/api/v1/graphs/{graph_pk}/versions/{id}/source/", { params: { path }, signal }));
}
