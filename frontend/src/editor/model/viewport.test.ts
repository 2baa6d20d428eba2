import { describe, expect, it } from "vitest";

import { MAX_FIT_ZOOM, READABLE_ZOOM, readableViewport } from "./viewport";

describe("fit view at a readable zoom", () => {
  it("shows a small graph whole, centred, never zoomed past the maximum", () => {
    const view = readableViewport({ x: 0, y: 0, width: 200, height: 300 }, 900, 700);
    expect(view.zoom).toBe(MAX_FIT_ZOOM);
    expect(view.x + 100 * view.zoom).toBeCloseTo(450);
    expect(view.y + 150 * view.zoom).toBeCloseTo(350);
  });

  it("fits a graph that is readable when it fits", () => {
    const view = readableViewport({ x: 0, y: 0, width: 400, height: 700 }, 900, 700);
    expect(view.zoom).toBeGreaterThanOrEqual(READABLE_ZOOM);
    expect(view.zoom).toBeLessThan(MAX_FIT_ZOOM);
  });

  it("never zooms below readable for a tall graph: it starts at the top, and the rest is a pan away", () => {
    const view = readableViewport({ x: -50, y: 100, width: 300, height: 52000 }, 900, 700);
    expect(view.zoom).toBe(READABLE_ZOOM);
    expect(view.y + 100 * view.zoom).toBe(32); // the inputs, a margin below the top edge
    expect(view.x + 100 * view.zoom).toBeCloseTo(450); // centred across
    // 12.8 px, the smallest text on a node, stays at least 11 px on screen.
    expect(12.8 * view.zoom).toBeGreaterThanOrEqual(11);
  });
});
