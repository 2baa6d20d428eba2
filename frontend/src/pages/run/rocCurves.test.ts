import { describe, expect, it } from "vitest";

import { MAX_CLASS_CURVES, latestValidationRoc, rocSeries } from "./rocCurves";

const curve = (auc: number) => ({ fpr: [0, 0.5, 1], tpr: [0, 1, 1], auc });

describe("rocSeries", () => {
  it("names class curves, skips classes without one and adds the micro average", () => {
    const curves = rocSeries({ classes: [curve(0.75), null, curve(0.9)], micro: curve(0.8) }, ["cat", "dog", "eel"]);
    expect(curves.map((c) => [c.name, c.auc, c.average ?? false])).toEqual([
      ["cat", 0.75, false],
      ["eel", 0.9, false],
      ["micro average", 0.8, true],
    ]);
    expect(curves[0]!.points).toEqual([{ x: 0, y: 0 }, { x: 0.5, y: 1 }, { x: 1, y: 1 }]);
  });

  it("keeps only the average for many classes, and ignores what is not a curve", () => {
    const many = Array.from({ length: MAX_CLASS_CURVES + 1 }, () => curve(0.7));
    expect(rocSeries({ classes: many, micro: curve(0.7) }, []).map((c) => c.name)).toEqual(["micro average"]);
    expect(rocSeries({ classes: [{ fpr: [0, 1], tpr: [0], auc: 1 }], micro: "no" }, ["a"])).toEqual([]);
    expect(rocSeries(null, [])).toEqual([]);
  });

  it("finds the newest epoch's validation curve", () => {
    const events = [
      { id: 1, type: "run.epoch", data: { epoch: 0, val: { roc_curve: "first" } } },
      { id: 2, type: "run.progress", data: { step: 3 } },
      { id: 3, type: "run.epoch", data: { epoch: 1, val: { roc_curve: "second" } } },
    ];
    expect(latestValidationRoc(events)).toBe("second");
    expect(latestValidationRoc(events.slice(1, 2))).toBeNull();
  });
});
