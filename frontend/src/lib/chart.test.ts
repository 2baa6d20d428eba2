import { describe, expect, it } from "vitest";

import { extent, linePath, scale, thin, ticks } from "./chart";
import { pixelsToTensor, probabilities, sampleShape } from "./imageTensor";

describe("chart geometry", () => {
  it("extent widens a flat series so it has height", () => {
    expect(extent([2, 2])).toEqual({ min: 1.5, max: 2.5 });
    expect(extent([])).toEqual({ min: 0, max: 1 });
  });

  it("scale maps onto flipped SVG y and paths go through every point", () => {
    const y = scale({ min: 0, max: 10 }, 100, 0);
    expect(y(0)).toBe(100);
    expect(y(10)).toBe(0);
    const x = scale({ min: 1, max: 3 }, 0, 20);
    expect(linePath([{ x: 1, y: 0 }, { x: 3, y: 10 }], x, y)).toBe("M0.0,100.0 L20.0,0.0");
  });

  it("ticks are round numbers inside the extent", () => {
    expect(ticks({ min: 0, max: 1 })).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(ticks({ min: 0, max: 10 }, 5)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(ticks({ min: 0.1, max: 0.98 })).toEqual([0.25, 0.5, 0.75]);
    expect(ticks({ min: 1, max: 3 }, 4, true)).toEqual([1, 2, 3]);
  });

  it("thin keeps the last point", () => {
    const points = Array.from({ length: 1000 }, (_, i) => ({ x: i, y: i }));
    const out = thin(points, 100);
    expect(out.length).toBeLessThanOrEqual(101);
    expect(out[out.length - 1]).toEqual({ x: 999, y: 999 });
  });
});

describe("image to tensor", () => {
  it("greyscale, channels first, scaled to [0, 1]", () => {
    const rgba = [255, 255, 255, 255, 0, 0, 0, 255];
    expect(pixelsToTensor(rgba, 2, 1, 1)).toEqual([1, 0]);
    expect(pixelsToTensor(rgba, 2, 1, 3)).toEqual([1, 0, 1, 0, 1, 0]);
  });

  it("the batch dimension becomes 1 and logits become probabilities", () => {
    expect(sampleShape([-1, 1, 32, 32])).toEqual([1, 1, 32, 32]);
    const p = probabilities([0, Math.log(3)]);
    expect(p[0]).toBeCloseTo(0.25);
    expect(p[1]).toBeCloseTo(0.75);
    expect(probabilities([0.2, 0.8])).toEqual([0.2, 0.8]);
  });
});
