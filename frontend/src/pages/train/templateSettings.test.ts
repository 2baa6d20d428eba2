import { describe, expect, it } from "vitest";

import { makeGraph } from "../../test/fixtures";
import { applyRecommendation, describeValues, flattenConfig, recommendationOf } from "./templateSettings";
import { defaultsFor, toRunConfig } from "./trainConfig";

// What builder/graph/templates/tabular_mlp.json recommends (TABLE_CONFIG in _make.py).
const TABLE_CONFIG = { batch_size: 16, optimizer: { name: "adam", lr: 0.01 }, schedule: { name: "one_cycle" } };
const tabular = { ...makeGraph(), template: "tabular_mlp", template_name: "MLP for tables", recommended_config: TABLE_CONFIG };
const RECOMMENDED = { batch_size: 16, "optimizer.name": "adam", "optimizer.lr": 0.01, "schedule.name": "one_cycle" };

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

  it("drops settings the form doesn't show, leaving them to the server", () => {
    expect(flattenConfig({ batch_size: 8, init_weights: { market_version: 3 }, nonsense: 1, optimizer: { lr: 0.1, bogus: 2 } })).toEqual({
      batch_size: 8,
      "optimizer.lr": 0.1,
    });
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
});
