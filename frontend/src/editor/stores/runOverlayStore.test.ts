import { beforeEach, describe, expect, it } from "vitest";

import type { RunEvent } from "../../lib/runEvents";
import { useRunOverlay } from "./runOverlayStore";

const progress = (id: number, norm: number): RunEvent => ({
  id,
  type: "run.progress",
  data: { step: id * 10, gradients: { a: norm, b: 1, c: 1 }, precision: { a: "fp16", b: "fp16", c: "fp16" } },
});

describe("useRunOverlay", () => {
  beforeEach(() => useRunOverlay.getState().reset(7));

  it("folds only the new tail of the run's events", () => {
    const { sync } = useRunOverlay.getState();
    sync(7, [progress(1, 1)]);
    const first = useRunOverlay.getState().layers;
    sync(7, [progress(1, 1), progress(2, 1)]);
    expect(useRunOverlay.getState().layers).toBe(first);
    expect(useRunOverlay.getState().step).toBe(20);
    sync(7, [progress(1, 1), progress(2, 1), progress(3, 1e-6)]);
    expect(useRunOverlay.getState().layers.a?.health).toBe("vanishing");
    expect(useRunOverlay.getState().layers.b).toBe(first.b);
  });

  it("replays when an older event arrives late, and ignores other runs", () => {
    const { sync } = useRunOverlay.getState();
    sync(7, [progress(3, 1)]);
    sync(7, [{ id: 1, type: "run.nonfinite", data: { step: 5, layer: "a" } }, progress(3, 1)]);
    expect(useRunOverlay.getState().nonfinite).toEqual({ layer: "a", step: 5 });
    sync(8, [{ id: 9, type: "run.status", data: { status: "failed" } }]);
    expect(useRunOverlay.getState().status).toBeNull();
  });
});
