import { describe, expect, it } from "vitest";

import type { JsonSchema } from "../../api/layers";
import { branchIndexFor, branchesOf, initialValueFor, parseText, problemWith } from "./schema";

const kernel: JsonSchema = {
  anyOf: [
    { type: "integer", minimum: 1, maximum: 1024 },
    { type: "array", items: { type: "integer", minimum: 1, maximum: 1024 } },
  ],
  default: 3,
};

describe("schema helpers", () => {
  it("finds which alternative of an anyOf a value belongs to", () => {
    const branches = branchesOf(kernel);
    expect(branchIndexFor(branches, 3)).toBe(0);
    expect(branchIndexFor(branches, [3, 5])).toBe(1);
    expect(branchesOf({ type: "integer" })).toHaveLength(1);
  });

  it("parses typed text and checks ranges", () => {
    const [single, list] = branchesOf(kernel);
    expect(parseText(single!, "5")).toEqual({ ok: true, value: 5 });
    expect(parseText(single!, "0")).toEqual({ ok: false, error: "must be at least 1" });
    expect(parseText(single!, "2.5")).toEqual({ ok: false, error: "must be a whole number" });
    expect(parseText(list!, "3, 5")).toEqual({ ok: true, value: [3, 5] });
    expect(parseText(list!, "3 x 0")).toEqual({ ok: false, error: "value 2 must be at least 1" });
    expect(parseText({ type: "number", exclusiveMaximum: 1 }, "1")).toEqual({ ok: false, error: "must be less than 1" });
  });

  it("checks list lengths", () => {
    expect(problemWith({ type: "array", items: { type: "integer" }, minItems: 1, maxItems: 2 }, [1, 2, 3])).toBe(
      "takes at most 2 values",
    );
  });

  it("starts a switched alternative from the current value", () => {
    const [single, list] = branchesOf(kernel);
    expect(initialValueFor(list!, 3, 5)).toEqual([5, 5]);
    expect(initialValueFor(single!, 3, [7, 7])).toBe(3);
    expect(initialValueFor({ type: "null" }, 3, 5)).toBeNull();
  });
});
