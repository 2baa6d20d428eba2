import { describe, expect, it } from "vitest";

import { layerSpecs } from "../../test/layers";
import { filterLayers } from "./Palette";

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
