import { describe, expect, it } from "vitest";

import {
  CARRIED_SETTINGS,
  RUN_CONFIG_FIELDS,
  SERVER_FIELDS,
  carriedSettings,
  configErrors,
  defaultsFor,
  devicesAskedFor,
  isShown,
  toRunConfig,
} from "./trainConfig";

const field = (path: string) => {
  const found = RUN_CONFIG_FIELDS.find((f) => f.path === path);
  if (!found) throw new Error(`no field ${path}`);
  return found;
};

describe("RUN_CONFIG_FIELDS (from the RunConfigRequest schema)", () => {
  it("has one field per leaf, with the schema's choices, defaults, ranges and help", () => {
    expect(field("epochs").schema).toMatchObject({ type: "integer", default: 10, minimum: 1, maximum: 10000, title: "Epochs" });
    expect(field("optimizer.name").schema).toMatchObject({ enum: ["sgd", "adam", "adamw"], default: "adam", title: "Optimizer" });
    // OpenAPI 3.0's `exclusiveMinimum: true` beside `minimum: 0` becomes JSON Schema's bound.
    expect(field("optimizer.lr").schema).toMatchObject({ type: "number", exclusiveMinimum: 0, maximum: 10, title: "Learning rate" });
    expect(field("optimizer.lr").schema.minimum).toBeUndefined();
    expect(field("precision.precision_mode").schema.enum).toEqual(["fp32", "fp16", "bf16", "dynamic"]);
    // A nullable choice offers "none" beside its values.
    expect(field("distributed.backend").schema.anyOf).toEqual([expect.objectContaining({ enum: ["nccl", "gloo"] }), { type: "null" }]);
    // Data-parallel and regression options read as words, with the server's choices.
    expect(field("distributed.compression").schema).toMatchObject({ enum: ["none", "fp16", "bf16", "powersgd"], title: "Gradient compression" });
    expect(field("distributed.sync_batchnorm").schema.title).toBe("Sync batch norm across GPUs");
    expect(field("target_scaling").schema).toMatchObject({ enum: ["standardize", "none", "log"], title: "Target scaling (regression)" });
  });

  it("leaves the fine-tuning fields and augmentation to their own controls", () => {
    const paths = RUN_CONFIG_FIELDS.map((f) => f.path);
    expect(paths.some((p) => p.startsWith("init_weights") || p.startsWith("freeze") || p.startsWith("augmentation"))).toBe(false);
    expect(SERVER_FIELDS).toContain("config.optimizer.lr");
    expect(SERVER_FIELDS).toContain("graph_version");
  });

  it("carries augmentation whole (a template's recommendation), never the fine-tuning fields", () => {
    expect([...CARRIED_SETTINGS]).toEqual(["augmentation"]);
    const schema = { type: "object", properties: { epochs: { type: "integer" }, augmentation: { type: "object" }, freeze: { type: "array" }, init_weights: {} } };
    expect(carriedSettings(schema)).toEqual(["augmentation"]);
    expect(carriedSettings({ type: "object", properties: { epochs: { type: "integer" } } })).toEqual([]);
  });

  it("shows a field that concerns one choice only while that choice is made", () => {
    expect(field("precision.threshold").when).toEqual({ path: "precision.precision_mode", value: "dynamic" });
    expect(isShown(field("precision.threshold"), {})).toBe(false);
    expect(isShown(field("precision.threshold"), { "precision.precision_mode": "dynamic" })).toBe(true);
    expect(isShown(field("schedule.step_size"), { "schedule.name": "step" })).toBe(true);
    expect(isShown(field("schedule.warmup_fraction"), { "schedule.name": "step" })).toBe(false);
    expect(isShown(field("optimizer.momentum"), {})).toBe(true);
  });

  it("shows the data-parallel settings only for a run over more than one device", () => {
    expect(devicesAskedFor({})).toBe(1);
    expect(isShown(field("distributed.compression"), {})).toBe(false);
    expect(isShown(field("distributed.compression"), { "device.gpus": 1 })).toBe(false);
    expect(isShown(field("distributed.compression"), { "device.gpus": 2 })).toBe(true);
    // Nodes multiply the devices asked for (the schema's device.nodes).
    expect(devicesAskedFor({ "device.gpus": 2, "device.nodes": 3 })).toBe(6);
    expect(isShown(field("distributed.compression"), { "device.nodes": 2 })).toBe(true);
    // Still tied to its own choice as well: PowerSGD's rank only with powersgd compression.
    expect(isShown(field("distributed.powersgd_rank"), { "device.gpus": 4 })).toBe(false);
    expect(isShown(field("distributed.powersgd_rank"), { "device.gpus": 4, "distributed.compression": "powersgd" })).toBe(true);
    // An empty or nonsense count is one device.
    expect(devicesAskedFor({ "device.gpus": "" })).toBe(1);
  });
});

describe("toRunConfig", () => {
  it("sends only what was set, nested by section", () => {
    expect(toRunConfig({})).toEqual({});
    expect(toRunConfig({ epochs: 2, "optimizer.lr": 0.01, "optimizer.name": "sgd", "precision.precision_mode": "fp16" })).toEqual({
      epochs: 2,
      optimizer: { lr: 0.01, name: "sgd" },
      precision: { precision_mode: "fp16" },
    });
    // A carried setting goes as it is, not split by path.
    expect(toRunConfig({ "optimizer.lr": 0.003, augmentation: { flip_horizontal: true, flip_depth: true } })).toEqual({
      optimizer: { lr: 0.003 },
      augmentation: { flip_horizontal: true, flip_depth: true },
    });
  });

  it("maps the server's field names back to the form's paths", () => {
    expect(configErrors({ "config.optimizer.lr": ["too big"], graph_version: ["draft"] })).toEqual({ "optimizer.lr": ["too big"] });
  });
});

describe("defaultsFor", () => {
  it("gives a small dataset a batch of about a tenth of its samples, so an epoch is several steps", () => {
    expect(defaultsFor(40)).toEqual({ batch_size: 4 }); // the chest CT sample: 8 steps an epoch
    expect(defaultsFor(120)).toEqual({ batch_size: 8 });
    expect(defaultsFor(12)).toEqual({ batch_size: 2 });
    expect(defaultsFor(569)).toEqual({ batch_size: 32 });
    expect(defaultsFor(1797)).toEqual({ batch_size: 32 });
  });

  it("keeps the schema's batch for large or unknown sizes", () => {
    expect(defaultsFor(60000)).toEqual({});
    expect(defaultsFor(undefined)).toEqual({});
  });
});
