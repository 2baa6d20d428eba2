/** DRF's page-number pagination envelope. */
export interface Paginated<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/** Route parameters arrive as strings; loaded objects carry numbers. Both address a resource. */
export type ResourceId = number | string;

export function resourcePath(base: string, id: ResourceId): string {
  return `${base}${encodeURIComponent(String(id))}/`;
}
