import { describe, expect, it } from "vitest";

import type { LayerFlowNode } from "./flow";
import type { GroupFlowNode } from "./groups";
import { ERROR_COLOR, PRECISION_COLOR, minimapColor } from "./minimap";

const layer = (id: string, selected = false): LayerFlowNode => ({ id, type: "layer", position: { x: 0, y: 0 }, data: { type: "conv2d", params: {} }, selected });
const fold: GroupFlowNode = {
  id: "group:layer1.0",
  type: "fold",
  position: { x: 0, y: 0 },
  data: { group: "layer1.0", size: 2, blocks: 0, exit: "b", members: ["a", "b"] },
};

describe("minimap colours", () => {
  it("marks layers with errors, and folded blocks that hold one, in red", () => {
    const errors = { b: { errors: [{ code: "shape_mismatch" }] } };
    expect(minimapColor(layer("b"), errors, {})).toBe(ERROR_COLOR);
    expect(minimapColor(fold, errors, {})).toBe(ERROR_COLOR);
    expect(minimapColor(fold, {}, {})).not.toBe(ERROR_COLOR);
  });

  it("colours the other layers by the precision the run on the canvas gives them", () => {
    const run = { a: { precision: "bf16" }, c: { precision: "fp16" } };
    expect(minimapColor(layer("a"), {}, run)).toBe(PRECISION_COLOR.bf16);
    expect(minimapColor(layer("c"), {}, run)).toBe(PRECISION_COLOR.fp16);
    expect(minimapColor(layer("d"), {}, run)).not.toBe(PRECISION_COLOR.fp32);
    // An error wins over the precision.
    expect(minimapColor(layer("a"), { a: { errors: [1] } }, run)).toBe(ERROR_COLOR);
  });
});
