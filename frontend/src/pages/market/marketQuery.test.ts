import { describe, expect, it } from "vitest";

import { filtersFromSearch, queryFromFilters, searchFromFilters } from "./marketQuery";

describe("market filters", () => {
  it("reads the URL, turning the size bucket and percent accuracy into the API's bounds", () => {
    const filters = filtersFromSearch(new URLSearchParams("q=digits&kind=model&size=small&accuracy=90&sort=stars&page=3&task=classification"));
    expect(queryFromFilters(filters)).toEqual({
      q: "digits",
      kind: "model",
      task: "classification",
      min_params: 100_000,
      max_params: 5_000_000,
      min_accuracy: 0.9,
      sort: "stars",
      page: 3,
    });
  });

  it("reads unknown values as 'any' and writes defaults as a plain URL", () => {
    const filters = filtersFromSearch(new URLSearchParams("kind=weights&sort=best&size=huge&page=-2"));
    expect(filters).toMatchObject({ kind: "", sort: "recent", size: "", page: 1 });
    expect(searchFromFilters(filters).toString()).toBe("");
    expect(queryFromFilters(filters)).toEqual({ sort: "recent", page: undefined });
  });

  it("round-trips through the URL", () => {
    const search = new URLSearchParams("q=lenet&modality=image&sort=-size&page=2");
    expect(searchFromFilters(filtersFromSearch(search)).toString()).toBe(search.toString());
  });
});
