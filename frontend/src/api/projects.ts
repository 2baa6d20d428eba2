import { api, unwrap } from "./client";
import { type Full, type Paginated, idParam, type Refine, type ResourceId, type Schemas } from "./types";

export type ProjectRole = Schemas["Membership"]["role"];

// schema gap: `role` is declared `string | null`; it is the signed-in user's RoleEnum.
export type Project = Refine<Full<Schemas["Project"]>, { readonly role: ProjectRole }>;

export type ProjectInput = Schemas["ProjectRequest"];

export interface ProjectQuery {
  page?: number;
  search?: string;
}

export async function listProjects(query: ProjectQuery = {}, signal?: AbortSignal): Promise<Paginated<Project>> {
  const page = await unwrap(api.GET("/api/v1/projects/", { params: { query: { page: query.page, search: query.search } }, signal }));
  return page as Paginated<Project>;
}

export async function getProject(id: ResourceId, signal?: AbortSignal): Promise<Project> {
  return (await unwrap(api.GET("/api/v1/projects/{id}/", { params: { path: { id: idParam(id) } }, signal }))) as Project;
}

export async function createProject(input: ProjectInput): Promise<Project> {
  return (await unwrap(api.POST("/api/v1/projects/", { body: input }))) as Project;
}

export function deleteProject(id: ResourceId): Promise<void> {
  return unwrap(api.DELETE("/api/v1/projects/{id}/", { params: { path: { id: idParam(id) } } }));
}

/** Whether the role may change the project's contents (create graphs, edit, train). */
export function canEdit(role: ProjectRole): boolean {
  return role === "owner" || role === "editor";
}
