import { describe, expect, it } from "vitest";

import { componentSchema } from "./openapiSchema";

describe("componentSchema", () => {
  it("inlines $ref and single-element allOf, keeping the referring field's own keys", () => {
    const config = componentSchema("RunConfigRequest");
    // `task` is `allOf: [$ref TaskEnum]` with its own default and title.
    expect(config.properties?.task).toMatchObject({ enum: ["classification", "regression", "segmentation"], default: "classification", title: "Task" });
    // `optimizer` is a bare $ref to an object component.
    expect(config.properties?.optimizer).toMatchObject({ type: "object", title: "OptimizerConfig" });
    expect(config.properties?.optimizer?.properties?.name).toMatchObject({ enum: ["sgd", "adam", "adamw"], default: "adam" });
  });

  it("writes nullable as anyOf with null, and boolean exclusive bounds as numbers", () => {
    const precision = componentSchema("PrecisionConfig");
    expect(precision.properties?.threshold).toMatchObject({ exclusiveMinimum: 0, maximum: 1 });
    expect(precision.properties?.threshold?.minimum).toBeUndefined();
    const augmentation = componentSchema("RunConfigRequest").properties?.augmentation;
    expect(augmentation?.description).toBe("Default: the dataset's augmentation.");
    expect(augmentation?.title).toBe("AugmentationSettings");
    expect(augmentation?.anyOf?.[0]).toMatchObject({ type: "object", properties: { flip_horizontal: { type: "boolean", default: false } } });
    expect(augmentation?.anyOf?.[1]).toEqual({ type: "null" });
  });

  it("names the missing component and the fix", () => {
    expect(() => componentSchema("NoSuchThing")).toThrow(/no component NoSuchThing: run make api-types/);
  });
});
