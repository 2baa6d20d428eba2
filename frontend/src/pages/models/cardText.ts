/**
 * A model card in words: the task's headline metric, the metrics table (validation and test), the
 * input contract a person can follow, and the training configuration as rows. Pure functions of
 * the card's JSON (see pipelines/export/package.make_card and domain/deploy), tested on their own.
 */
import { describeInput } from "./inputContract";

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function numberAt(metrics: Json | undefined, key: string): number | null {
  const value = metrics?.[key];
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** A trained model's card says `best` (the best validation epoch); a compressed one's `val` (measured on it). */
export function validationMetrics(metrics: Json): Json | undefined {
  if (isObject(metrics.val)) return metrics.val;
  return isObject(metrics.best) ? metrics.best : undefined;
}

export function testMetrics(metrics: Json): Json | undefined {
  return isObject(metrics.test) ? metrics.test : undefined;
}

// Metrics that are fractions (shown as percentages), and the words for each metric.
const FRACTIONS = new Set(["accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc_macro", "dice", "iou", "pixel_accuracy"]);
const LABELS: Record<string, string> = {
  accuracy: "Accuracy",
  precision_macro: "Precision (macro)",
  recall_macro: "Recall (macro)",
  f1_macro: "F1 (macro)",
  roc_auc_macro: "ROC AUC (macro)",
  loss: "Loss",
  mae: "MAE",
  rmse: "RMSE",
  r2: "R²",
  dice: "Dice",
  iou: "IoU",
  pixel_accuracy: "Pixel accuracy",
};

// The order of the metrics table: each task's headline first, the loss last.
const ORDER = ["accuracy", "f1_macro", "precision_macro", "recall_macro", "roc_auc_macro", "r2", "mae", "rmse", "dice", "iou", "pixel_accuracy", "loss"];

export function metricLabel(key: string): string {
  return LABELS[key] ?? key.replaceAll("_", " ");
}

export function formatMetric(key: string, value: number): string {
  if (FRACTIONS.has(key)) return `${(value * 100).toFixed(2)}%`;
  return Number(value.toPrecision(4)).toString();
}

export interface Headline {
  key: string;
  label: string;
  value: string;
  /** "test" or "validation": where the figure was measured. */
  split: string;
}

// The figure each task is judged by, in order of preference.
const HEADLINE_KEYS: Record<string, string[]> = {
  classification: ["accuracy", "f1_macro"],
  regression: ["r2", "mae", "rmse"],
  segmentation: ["dice", "iou", "pixel_accuracy"],
};

// How a headline reads after its split: "test accuracy", "test R²", "validation Dice".
const HEADLINE_NAMES: Record<string, string> = { accuracy: "accuracy", f1_macro: "F1 (macro)", r2: "R²", mae: "MAE", rmse: "RMSE", dice: "Dice", iou: "IoU", pixel_accuracy: "pixel accuracy" };

/** The task's headline metric: on the test split when measured there, else on validation; null when neither has one. */
export function headlineMetric(task: string, metrics: Json | null | undefined): Headline | null {
  if (!metrics) return null;
  const keys = HEADLINE_KEYS[task] ?? ["accuracy", "f1_macro"];
  for (const [split, values] of [
    ["test", testMetrics(metrics)],
    ["validation", validationMetrics(metrics)],
  ] as const) {
    for (const key of keys) {
      const value = numberAt(values, key);
      if (value !== null) return { key, label: `${split} ${HEADLINE_NAMES[key] ?? metricLabel(key)}`, value: formatMetric(key, value), split };
    }
  }
  return null;
}

export interface MetricRow {
  key: string;
  label: string;
  validation: string;
  test: string;
}

/** One row per scalar metric in either split (curves, matrices and the epoch number left out). */
export function metricRows(metrics: Json | null | undefined): MetricRow[] {
  if (!metrics) return [];
  const val = validationMetrics(metrics);
  const test = testMetrics(metrics);
  const keys: string[] = [];
  for (const values of [val, test]) {
    for (const [key, value] of Object.entries(values ?? {})) {
      if (key !== "epoch" && typeof value === "number" && !keys.includes(key)) keys.push(key);
    }
  }
  const cell = (values: Json | undefined, key: string) => {
    const value = numberAt(values, key);
    return value === null ? "—" : formatMetric(key, value);
  };
  const rank = (key: string) => (ORDER.includes(key) ? ORDER.indexOf(key) : ORDER.length);
  keys.sort((a, b) => rank(a) - rank(b));
  return keys.map((key) => ({ key, label: metricLabel(key), validation: cell(val, key), test: cell(test, key) }));
}

/** What a caller sends, in words, from the card's preprocessing (a dataset's recipe plus the run's resize). */
export function inputInWords(preprocessing: Json | null | undefined, shape: number[] = []): string {
  return describeInput({ shape, preprocessing }).summary;
}

export interface ConfigRow {
  label: string;
  value: string;
}

export interface ConfigSection {
  title: string;
  rows: ConfigRow[];
}

function words(key: string): string {
  return key.replaceAll("_", " ");
}

function valueText(value: unknown): string | null {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "number") return Number(value.toPrecision(6)).toString();
  if (typeof value === "string" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return value.length === 0 ? "none" : value.every((v) => !isObject(v)) ? value.join(", ") : JSON.stringify(value);
  return null;
}

/**
 * The training configuration as sections of rows: the top-level scalars under "General", then one
 * section per nested object (its own nested objects flattened as "a › b"). A section's name is not
 * repeated in its rows: "precision" › "mode" rather than "precision precision mode".
 */
export function configSections(config: Json | null | undefined): ConfigSection[] {
  if (!config) return [];
  const general: ConfigRow[] = [];
  const sections: ConfigSection[] = [];
  for (const [key, value] of Object.entries(config)) {
    const text = valueText(value);
    if (text !== null) {
      general.push({ label: words(key), value: text });
      continue;
    }
    const rows: ConfigRow[] = [];
    const walk = (object: Json, prefix: string) => {
      for (const [inner, item] of Object.entries(object)) {
        const name = words(inner.startsWith(`${key}_`) ? inner.slice(key.length + 1) : inner);
        const label = prefix ? `${prefix} › ${name}` : name;
        const itemText = valueText(item);
        if (itemText !== null) rows.push({ label, value: itemText });
        else walk(item as Json, label);
      }
    };
    walk(value as Json, "");
    if (rows.length) sections.push({ title: words(key), rows });
  }
  return general.length ? [{ title: "General", rows: general }, ...sections] : sections;
}
