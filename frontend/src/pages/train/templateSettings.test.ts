import { describe, expect, it } from "vitest";

import { makeGraph } from "../../test/fixtures";
import {
  AUGMENTATION_FIELDS,
  applyRecommendation,
  describeAugmentation,
  describeValues,
  flattenConfig,
  recommendationOf,
} from "./templateSettings";
import { defaultsFor, toRunConfig } from "./trainConfig";

// What builder/graph/templates/tabular_mlp.json recommends (TABLE_CONFIG in _make.py).
const TABLE_CONFIG = { batch_size: 16, optimizer: { name: "adam", lr: 0.01 }, schedule: { name: "one_cycle" } };
const tabular = { ...makeGraph(), template: "tabular_mlp", template_name: "MLP for tables", recommended_config: TABLE_CONFIG };
const RECOMMENDED = { batch_size: 16, "optimizer.name": "adam", "optimizer.lr": 0.01, "schedule.name": "one_cycle" };
// What builder/graph/templates/unet3d.json recommends: its augmentation has no field on the form.
const FLIPS = { flip_horizontal: true, flip_depth: true };
const UNET3D_CONFIG = { optimizer: { name: "adam", lr: 0.003 }, loss: "dice_cross_entropy", schedule: { name: "cosine" }, augmentation: FLIPS };
const unet3d = { ...makeGraph(), template: "unet3d", template_name: "U-Net (3D segmentation)", recommended_config: UNET3D_CONFIG };

describe("recommendationOf", () => {
  it("flattens the template's partial run config to the form's paths, named after the template", () => {
    expect(recommendationOf(tabular)).toEqual({ templateName: "MLP for tables", values: RECOMMENDED });
    // Round trip: sent as the server's nested run config again.
    expect(toRunConfig(RECOMMENDED)).toEqual(TABLE_CONFIG);
  });

  it("is null for a graph from no template, or from one that recommends nothing", () => {
    expect(recommendationOf(makeGraph())).toBeNull();
    expect(recommendationOf(undefined)).toBeNull();
    expect(recommendationOf({ ...makeGraph(), template: null, template_name: null, recommended_config: {} })).toBeNull();
    expect(recommendationOf({ ...makeGraph(), template: "lenet5", template_name: "LeNet-5", recommended_config: {} })).toBeNull();
  });

  it("leaves fine-tuning its own learning rate", () => {
    expect(recommendationOf(tabular, true)?.values).toEqual({ batch_size: 16, "optimizer.name": "adam", "schedule.name": "one_cycle" });
  });

  it("drops settings the run config doesn't know, and the fine-tuning controls' own", () => {
    const config = { batch_size: 8, init_weights: { market_version: 3 }, freeze: ["conv1"], nonsense: 1, optimizer: { lr: 0.1, bogus: 2 } };
    expect(flattenConfig(config)).toEqual({ batch_size: 8, "optimizer.lr": 0.1 });
  });

  it("carries a recommended augmentation whole, though no field shows it, and sends it as it was", () => {
    const values = recommendationOf(unet3d)?.values;
    expect(values).toEqual({ "optimizer.name": "adam", "optimizer.lr": 0.003, loss: "dice_cross_entropy", "schedule.name": "cosine", augmentation: FLIPS });
    expect(toRunConfig(values ?? {})).toEqual(UNET3D_CONFIG);
    // Recommending no augmentation at all (null) is a setting too: the run then skips the dataset's.
    expect(flattenConfig({ augmentation: null })).toEqual({ augmentation: null });
  });
});

describe("applyRecommendation", () => {
  it("pre-fills the recommended settings over the dataset's defaults", () => {
    const fromDataset = defaultsFor(569); // a batch of 32 fitting 569 rows
    expect(applyRecommendation({ ...fromDataset, epochs: 3 }, null, RECOMMENDED, fromDataset)).toEqual({ ...RECOMMENDED, epochs: 3 });
  });

  it("takes them back to the plain defaults, keeping what the user changed since", () => {
    const fallback = defaultsFor(569);
    const edited = { ...RECOMMENDED, "optimizer.lr": 0.003, epochs: 3 };
    // The batch returns to the dataset's, the untouched optimizer and schedule to the schema's
    // defaults (left unset); the user's learning rate and epochs stay.
    expect(applyRecommendation(edited, RECOMMENDED, null, fallback)).toEqual({ batch_size: 32, "optimizer.lr": 0.003, epochs: 3 });
    expect(applyRecommendation(RECOMMENDED, RECOMMENDED, null)).toEqual({});
  });

  it("takes a recommended augmentation back with the rest, so the run takes the dataset's again", () => {
    const recommended = recommendationOf(unet3d)?.values ?? null;
    const applied = applyRecommendation({ epochs: 3 }, null, recommended);
    expect(toRunConfig(applied).augmentation).toEqual(FLIPS);
    const plain = applyRecommendation(applied, recommended, null);
    expect(plain).toEqual({ epochs: 3 });
    expect(toRunConfig(plain)).not.toHaveProperty("augmentation");
    // The graph list reloaded: an equal recommendation in new objects still takes back the old one.
    const reloaded = recommendationOf({ ...unet3d, recommended_config: structuredClone(UNET3D_CONFIG) })?.values ?? null;
    expect(applyRecommendation(applied, recommended, reloaded)).toEqual(applied);
    expect(applyRecommendation(applied, reloaded, null)).toEqual({ epochs: 3 });
  });

  it("is the same when applied twice, and switches cleanly to another template's settings", () => {
    const once = applyRecommendation({}, null, RECOMMENDED);
    expect(applyRecommendation(once, RECOMMENDED, RECOMMENDED)).toEqual(once);
    expect(applyRecommendation(once, RECOMMENDED, { batch_size: 4 })).toEqual({ batch_size: 4 });
  });
});

describe("describeValues", () => {
  it("says the settings in words", () => {
    expect(describeValues(RECOMMENDED)).toBe("batch 16, Adam optimizer, learning rate 0.01, one-cycle schedule");
    expect(describeValues({ epochs: 40 })).toBe("epochs 40");
  });

  it("names a recommended augmentation last, in words, as replacing the dataset's", () => {
    // The augmentation first, as a template might list it: still said last, after its own colon.
    const values = { augmentation: FLIPS, ...recommendationOf(unet3d)?.values };
    expect(describeValues(values)).toBe(
      "Adam optimizer, learning rate 0.003, loss dice_cross_entropy, cosine schedule, " +
        "augmentation: left-right flips, slice-order flips (instead of the dataset's)",
    );
  });
});

describe("describeAugmentation", () => {
  it("says what is switched on, leaving out what stays at the server's default", () => {
    expect(describeAugmentation(FLIPS)).toBe("left-right flips, slice-order flips");
    expect(describeAugmentation({ flip_vertical: true, flip_horizontal: false, rotate_degrees: 15, crop_scale: 1, scale_3d: 0.1, elastic_3d: 2 })).toBe(
      "top-bottom flips, in-plane rotation up to 15°, 3-D zoom by up to 10%, elastic deformation of about 2 voxels",
    );
    expect(describeAugmentation(null)).toBe("none");
    expect(describeAugmentation({ flip_depth: false, crop_scale: 1 })).toBe("none");
  });

  it("has words for every augmentation setting the server knows", () => {
    const names = Object.keys(AUGMENTATION_FIELDS);
    expect(names).toEqual(expect.arrayContaining(["flip_horizontal", "flip_depth", "elastic_3d", "gaussian_noise"]));
    for (const name of names) {
      const field = AUGMENTATION_FIELDS[name] as { default?: unknown; minimum?: number; maximum?: number };
      const value = typeof field.default === "boolean" ? true : field.default === field.maximum ? field.minimum : field.maximum;
      const text = describeAugmentation({ [name]: value });
      expect(text, name).not.toBe("none");
      expect(text, name).not.toContain(name.replaceAll("_", " "));
    }
  });
});
