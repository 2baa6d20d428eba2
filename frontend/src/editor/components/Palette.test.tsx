import { describe, expect, it } from "vitest";

import { layerSpecs } from "../../test/layers";
import { bestMatch, filterLayers } from "./Palette";

describe("filterLayers", () => {
  it("matches every word against the id, category and one-line doc", () => {
    expect(filterLayers(layerSpecs, "conv").map((l) => l.id)).toEqual(["conv2d"]);
    expect(filterLayers(layerSpecs, "images convolution").map((l) => l.id)).toEqual(["conv2d"]);
    expect(filterLayers(layerSpecs, "fully").map((l) => l.id)).toEqual(["linear"]);
    expect(filterLayers(layerSpecs, "merge").map((l) => l.id)).toEqual(["add"]);
    expect(filterLayers(layerSpecs, "  ")).toHaveLength(layerSpecs.length);
    expect(filterLayers(layerSpecs, "nothing-like-this")).toEqual([]);
  });
});

describe("bestMatch", () => {
  it("prefers the layer whose id is the query, then the first match", () => {
    expect(bestMatch(layerSpecs, "linear")?.id).toBe("linear");
    expect(bestMatch(layerSpecs, " Conv2D ")?.id).toBe("conv2d");
    expect(bestMatch(layerSpecs, "fully")?.id).toBe("linear");
    expect(bestMatch(layerSpecs, "nothing-like-this")).toBeUndefined();
  });
});
