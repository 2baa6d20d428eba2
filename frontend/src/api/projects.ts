import type { UserRef } from "./auth";
import { apiRequest } from "./client";
import { type Paginated, type ResourceId, resourcePath } from "./types";

export type ProjectRole = "owner" | "editor" | "viewer";

export interface Project {
  id: number;
  name: string;
  description: string;
  owner: UserRef;
  /** The signed-in user's role in this project. */
  role: ProjectRole;
  created_at: string;
  updated_at: string;
}

export interface ProjectInput {
  name: string;
  description: string;
}

export interface ProjectQuery {
  page?: number;
  search?: string;
}

const PROJECTS = "/api/v1/projects/";

export function listProjects(query: ProjectQuery = {}, signal?: AbortSignal): Promise<Paginated<Project>> {
  return apiRequest(PROJECTS, { query: { page: query.page, search: query.search }, signal });
}

export function getProject(id: ResourceId, signal?: AbortSignal): Promise<Project> {
  return apiRequest(resourcePath(PROJECTS, id), { signal });
}

export function createProject(input: ProjectInput): Promise<Project> {
  return apiRequest(PROJECTS, { method: "POST", body: input });
}

export function deleteProject(id: ResourceId): Promise<void> {
  return apiRequest(resourcePath(PROJECTS, id), { method: "DELETE" });
}

/** Whether the role may change the project's contents (create graphs, edit, train). */
export function canEdit(role: ProjectRole): boolean {
  return role === "owner" || role === "editor";
}
