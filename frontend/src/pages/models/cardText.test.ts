import { describe, expect, it } from "vitest";

import { configSections, headlineMetric, inputInWords, metricRows } from "./cardText";

const trained = {
  best: { epoch: 4, accuracy: 0.93, loss: 0.2104 },
  test: { accuracy: 0.9721, loss: 0.1, f1_macro: 0.97, confusion_matrix: [[1]] },
};

describe("headlineMetric", () => {
  it("is the test accuracy of a classifier, as a percentage", () => {
    expect(headlineMetric("classification", trained)).toEqual({ key: "accuracy", label: "test accuracy", value: "97.21%", split: "test" });
  });

  it("is R² or else MAE for regression, and Dice for segmentation", () => {
    expect(headlineMetric("regression", { test: { mae: 3.14159, rmse: 4 } })?.label).toBe("test MAE");
    expect(headlineMetric("regression", { test: { mae: 3.14159, r2: 0.8123 } })).toMatchObject({ label: "test R²", value: "0.8123" });
    expect(headlineMetric("segmentation", { test: { dice: 0.8, iou: 0.7 } })).toMatchObject({ label: "test Dice", value: "80.00%" });
  });

  it("falls back to validation (a compressed model's `val`), and is null with no figures", () => {
    expect(headlineMetric("classification", { val: { accuracy: 0.5 } })).toMatchObject({ label: "validation accuracy", split: "validation" });
    expect(headlineMetric("classification", {})).toBeNull();
  });
});

describe("metricRows", () => {
  it("puts validation and test side by side, leaving out the epoch, curves and matrices", () => {
    expect(metricRows(trained)).toEqual([
      { key: "accuracy", label: "Accuracy", validation: "93.00%", test: "97.21%" },
      { key: "f1_macro", label: "F1 (macro)", validation: "—", test: "97.00%" },
      { key: "loss", label: "Loss", validation: "0.2104", test: "0.1" },
    ]);
  });
});

describe("inputInWords", () => {
  it("describes an image input from the dataset's recipe", () => {
    expect(inputInWords({ input: "image", channels: 1, size: [8, 8], scale: 1 / 255 }, [-1, 1, 8, 8])).toBe("grey image, 8×8, scaled to 0–1");
    expect(inputInWords({ input: "image", channels: 3, size: [8, 8], resize: [32, 32] }, [-1, 3, 32, 32])).toBe(
      "colour (RGB) image, 8×8, scaled to 0–1, resized to 32×32 for the model",
    );
  });

  it("describes tables, text and CT, and falls back to the shape", () => {
    expect(inputInWords({ input: "table", features: ["a", "b", "c"] })).toMatch(/^table row of 3 features/);
    expect(inputInWords({ input: "text", max_length: 128, vocab_size: 3000 })).toBe("text as WordPiece token ids, up to 128 tokens, vocabulary of 3000");
    expect(inputInWords({ input: "ct", mode: "3d", volume_shape: [16, 32, 32], window: { low: -1000, high: 400 } })).toBe(
      "CT volume, 16×32×32 voxels, in Hounsfield units, windowed -1000 to 400 HU, scaled to 0–1",
    );
    expect(inputInWords({}, [-1, 4])).toBe("a tensor of shape [-1, 4]");
  });
});

describe("configSections", () => {
  it("groups nested settings and never repeats a section's name in its rows", () => {
    const sections = configSections({
      epochs: 10,
      task: "classification",
      freeze: [],
      precision: { precision_mode: "dynamic", threshold: 0.01 },
      optimizer: { name: "adam", lr: 0.001, betas: [0.9, 0.999] },
      init_weights: null,
    });
    expect(sections[0]).toEqual({
      title: "General",
      rows: [
        { label: "epochs", value: "10" },
        { label: "task", value: "classification" },
        { label: "freeze", value: "none" },
        { label: "init weights", value: "—" },
      ],
    });
    expect(sections[1]).toEqual({ title: "precision", rows: [{ label: "mode", value: "dynamic" }, { label: "threshold", value: "0.01" }] });
    expect(sections[2]?.rows).toContainEqual({ label: "betas", value: "0.9, 0.999" });
  });
});
