import type { User } from "../api/auth";
import type { Paginated } from "../api/types";
import type { Graph } from "../api/graphs";
import type { Project } from "../api/projects";

export const ada: User = { id: 1, username: "ada", email: "ada@example.com" };

export function makeProject(overrides: Partial<Project> = {}): Project {
  return {
    id: 1,
    name: "Digits",
    description: "MNIST classifiers",
    owner: { id: ada.id, username: ada.username },
    role: "owner",
    created_at: "2025-01-02T10:00:00Z",
    updated_at: "2025-01-03T10:00:00Z",
    ...overrides,
  };
}

export function makeGraph(overrides: Partial<Graph> = {}): Graph {
  return {
    id: 10,
    project: 1,
    name: "LeNet",
    description: "",
    created_by: { id: ada.id, username: ada.username },
    created_at: "2025-01-02T10:00:00Z",
    updated_at: "2025-01-03T10:00:00Z",
    latest_version: null,
    template: null,
    template_name: null,
    recommended_config: {},
    template_starts_from: null,
    ...overrides,
  };
}

export function page<T>(results: T[], links: { next?: string; previous?: string } = {}): Paginated<T> {
  return { count: results.length, next: links.next ?? null, previous: links.previous ?? null, results };
}
