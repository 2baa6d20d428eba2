import type { EntryKind, MarketQuery, MarketSort } from "../../api/market";

export const SORTS: readonly { value: MarketSort; label: string }[] = [
  { value: "recent", label: "Most recent" },
  { value: "popularity", label: "Most popular" },
  { value: "stars", label: "Most stars" },
  { value: "downloads", label: "Most downloads" },
  { value: "accuracy", label: "Highest accuracy" },
  { value: "size", label: "Smallest first" },
  { value: "-size", label: "Largest first" },
];

/** Size buckets (parameters) offered as one filter: [min, max], either open. */
export const SIZES: Readonly<Record<string, { label: string; min?: number; max?: number }>> = {
  "": { label: "Any size" },
  tiny: { label: "Under 100k parameters", max: 100_000 },
  small: { label: "100k – 5M parameters", min: 100_000, max: 5_000_000 },
  large: { label: "Over 5M parameters", min: 5_000_000 },
};

/** The filters as the form and the URL hold them (strings; "" is "any"). */
export interface MarketFilters {
  q: string;
  task: string;
  modality: string;
  kind: string;
  size: string;
  /** Minimum accuracy in percent. */
  accuracy: string;
  sort: string;
  page: number;
}

const KEYS = ["q", "task", "modality", "kind", "size", "accuracy", "sort"] as const;
const SORT_VALUES = new Set<string>(SORTS.map((s) => s.value));

/** The filters in a page URL's search params; anything unknown reads as "any". */
export function filtersFromSearch(search: URLSearchParams): MarketFilters {
  const page = Number(search.get("page"));
  const filters: MarketFilters = { q: "", task: "", modality: "", kind: "", size: "", accuracy: "", sort: "recent", page: Number.isInteger(page) && page > 1 ? page : 1 };
  for (const key of KEYS) filters[key] = search.get(key) ?? filters[key];
  if (!SORT_VALUES.has(filters.sort)) filters.sort = "recent";
  if (filters.kind !== "model" && filters.kind !== "template") filters.kind = "";
  if (!(filters.size in SIZES)) filters.size = "";
  return filters;
}

/** The search params for filters: defaults are left out, so a plain /market stays plain. */
export function searchFromFilters(filters: MarketFilters): URLSearchParams {
  const search = new URLSearchParams();
  for (const key of KEYS) {
    const value = filters[key].trim();
    if (value !== "" && !(key === "sort" && value === "recent")) search.set(key, value);
  }
  if (filters.page > 1) search.set("page", String(filters.page));
  return search;
}

/** The API request for filters. */
export function queryFromFilters(filters: MarketFilters): MarketQuery {
  const query: MarketQuery = { sort: filters.sort as MarketSort, page: filters.page > 1 ? filters.page : undefined };
  if (filters.q.trim()) query.q = filters.q.trim();
  if (filters.task) query.task = filters.task;
  if (filters.modality) query.modality = filters.modality;
  if (filters.kind) query.kind = filters.kind as EntryKind;
  const size = SIZES[filters.size];
  if (size?.min !== undefined) query.min_params = size.min;
  if (size?.max !== undefined) query.max_params = size.max;
  const accuracy = Number(filters.accuracy);
  if (filters.accuracy !== "" && Number.isFinite(accuracy) && accuracy > 0) query.min_accuracy = Math.min(accuracy, 100) / 100;
  return query;
}
