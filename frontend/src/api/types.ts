import type { components } from "./schema";

/** The generated OpenAPI component schemas (`schema.d.ts`). */
export type Schemas = components["schemas"];

/**
 * `Base` with some fields' types replaced. Used only where the schema is wrong or too loose (a
 * JSON field declared as any value, say); each use says which gap it fills with `// schema gap:`.
 * When the server's schema is fixed and the types regenerated, the refinement can go.
 */
export type Refine<Base, Fields> = Omit<Base, keyof Fields> & Fields;

/**
 * A response component as DRF sends it: every field present.
 */
// schema gap: drf-spectacular lists a writable field with a default (a model field with
// `blank=True` or `default=`) as optional in response components too, though every response
// carries it.
export type Full<T> = Required<T>;

/** DRF's page-number pagination envelope, the same for every list. */
export type Paginated<T> = Omit<Full<Schemas["PaginatedProjectList"]>, "results"> & { results: T[] };

/** Route parameters arrive as strings; loaded objects carry numbers. Both address a resource. */
export type ResourceId = number | string;

/**
 * A resource id as a path or query parameter. The schema types ids as integers; a route's string
 * id is written into the URL as it is (the serializers write either form the same way).
 */
export function idParam(id: ResourceId): number {
  return id as number;
}

