import { describe, expect, it } from "vitest";

import { classScores, formatScore } from "./classScores";

describe("classScores", () => {
  it("pairs each class name with its Dice and IoU, null where a class had nothing to score", () => {
    const rows = classScores({ dice_per_class: [0.9, 0.727272, null], iou_per_class: [0.82, 0.5714, null] }, ["background", "lesion", "vessel"]);
    expect(rows).toEqual([
      { name: "background", dice: 0.9, iou: 0.82 },
      { name: "lesion", dice: 0.727272, iou: 0.5714 },
      { name: "vessel", dice: null, iou: null },
    ]);
    expect(rows.map((r) => formatScore(r.dice))).toEqual(["90.00%", "72.73%", "—"]);
  });

  it("names classes the plan does not list by index, and is empty without per-class figures", () => {
    expect(classScores({ dice_per_class: [0.5, 0.25], iou_per_class: [1 / 3, 1 / 7] }, ["0"])[1]).toEqual({ name: "class 1", dice: 0.25, iou: 1 / 7 });
    expect(classScores({ dice: 0.7 }, ["a", "b"])).toEqual([]);
    expect(classScores(null, [])).toEqual([]);
  });
});
