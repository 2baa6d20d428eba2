import { describe, expect, it } from "vitest";

import type { RunEvent } from "../../lib/runEvents";
import { EMPTY_OVERLAY, foldEvents, foldOverlay, gradHealth, median, nonfiniteMessage } from "./runOverlay";

const progress = (id: number, step: number, gradients: Record<string, number>, precision: Record<string, string>): RunEvent => ({
  id,
  type: "run.progress",
  data: { step, loss: 1, gradients, precision, activations: {} },
});

describe("runOverlay", () => {
  it("grades a gradient norm against the median", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(gradHealth(1, 1)).toBe("normal");
    expect(gradHealth(0.05, 1)).toBe("low");
    expect(gradHealth(0.001, 1)).toBe("vanishing");
    expect(gradHealth(0, 0)).toBe("vanishing");
    expect(gradHealth(20, 1)).toBe("high");
    expect(gradHealth(500, 1)).toBe("exploding");
    expect(gradHealth(Infinity, 1)).toBe("exploding");
  });

  it("maps a progress event's precision map and gradient norms onto node ids", () => {
    const state = foldEvents(EMPTY_OVERLAY, [
      progress(1, 10, { conv1: 1, conv2: 2, fc: 1000 }, { conv1: "fp16", conv2: "fp32", fc: "fp16", relu: "fp16" }),
    ]);
    expect(state.step).toBe(10);
    expect(state.layers.conv1).toEqual({ precision: "fp16", gradNorm: 1, gradRatio: 0.5, health: "normal" });
    expect(state.layers.fc?.health).toBe("exploding");
    expect(state.layers.relu).toEqual({ precision: "fp16", gradNorm: null, gradRatio: null, health: null });
  });

  it("keeps unchanged layers as the same objects, so their nodes do not re-render", () => {
    const first = foldEvents(EMPTY_OVERLAY, [progress(1, 10, { a: 1, b: 1 }, { a: "fp16", b: "fp16" })]);
    const second = foldOverlay(first, progress(2, 20, { a: 1, b: 1 }, { a: "fp16", b: "fp32" }));
    expect(second.layers.a).toBe(first.layers.a);
    expect(second.layers.b).not.toBe(first.layers.b);
    expect(second.layers.b?.precision).toBe("fp32");
    const same = foldOverlay(second, progress(3, 30, { a: 1, b: 1 }, { a: "fp16", b: "fp32" }));
    expect(same.layers).toBe(second.layers);
  });

  it("takes the epoch's precision decisions and keeps the gradients", () => {
    const state = foldEvents(EMPTY_OVERLAY, [
      progress(1, 10, { a: 1 }, { a: "bf16" }),
      { id: 2, type: "run.epoch", data: { epoch: 0, precision: { mode: "dynamic", layers: { a: "fp32" } } } },
    ]);
    expect(state.layers.a).toEqual({ precision: "fp32", gradNorm: 1, gradRatio: 1, health: "normal" });
  });

  it("keeps the first NaN/Inf layer and the status, and ignores events already folded", () => {
    const state = foldEvents(EMPTY_OVERLAY, [
      { id: 1, type: "run.status", data: { status: "running" } },
      { id: 2, type: "run.nonfinite", data: { step: 40, layer: "conv2" } },
      { id: 3, type: "run.nonfinite", data: { step: 41, layer: "fc" } },
      { id: 2, type: "run.status", data: { status: "failed" } },
    ]);
    expect(state.nonfinite).toEqual({ layer: "conv2", step: 40 });
    expect(state.status).toBe("running");
    expect(nonfiniteMessage(state.nonfinite!)).toBe("NaN/Inf first appeared in layer conv2 at step 40.");
    expect(nonfiniteMessage({ layer: null, step: null })).toMatch(/unknown layer/);
  });
});
