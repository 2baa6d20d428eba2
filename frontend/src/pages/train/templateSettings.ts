/**
 * A template's recommended run settings on the Train form: a graph made from a shipped template
 * carries that template's partial run config (`recommended_config`, e.g. the tabular MLP's batch
 * 16, Adam at 0.01 and a one-cycle schedule), which the form pre-fills over the schema's defaults
 * and can take back again. A recommended setting without a field (the 3-D U-Net's augmentation)
 * rides along whole, named in the note. Pure functions; TrainForm holds the state.
 */
import type { Graph } from "../../api/graphs";
import { componentSchema } from "../../api/openapiSchema";
import { CARRIED_SETTINGS, type ConfigValues, RUN_CONFIG_FIELDS } from "./trainConfig";

/** The settings a template recommends, by the form's field paths, with its name for the note. */
export interface Recommendation {
  templateName: string;
  values: ConfigValues;
}

const FIELD_PATHS: ReadonlySet<string> = new Set(RUN_CONFIG_FIELDS.map((f) => f.path));

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A partial run config flattened to the form's dotted paths ({optimizer: {lr}} → "optimizer.lr"),
 * keeping the fields the form shows and, whole, the settings it carries (augmentation): what it
 * doesn't know, and the fine-tuning fields, are left to the server's default and their controls.
 */
export function flattenConfig(config: Readonly<Record<string, unknown>>): ConfigValues {
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (CARRIED_SETTINGS.has(key)) {
      values[key] = value;
    } else if (isObject(value)) {
      for (const [child, inner] of Object.entries(value)) if (FIELD_PATHS.has(`${key}.${child}`)) values[`${key}.${child}`] = inner;
    } else if (FIELD_PATHS.has(key)) {
      values[key] = value;
    }
  }
  return values;
}

/**
 * What the graph's template recommends, or null when it came from none or its template recommends
 * nothing. Fine-tuning from pretrained weights keeps its own small learning rate (`keepLr`).
 */
export function recommendationOf(graph: Graph | undefined, keepLr = false): Recommendation | null {
  if (!graph?.template || !graph.recommended_config) return null;
  const values: Record<string, unknown> = { ...flattenConfig(graph.recommended_config) };
  if (keepLr) delete values["optimizer.lr"];
  if (Object.keys(values).length === 0) return null;
  return { templateName: graph.template_name ?? graph.template, values };
}

/**
 * The form's values after taking back the `previous` recommendation and applying `next` (either may
 * be null). A recommended value the user has since changed stays theirs; one taken back returns to
 * `fallback` (the dataset's batch, say) or, when that has none, to the schema's default.
 */
export function applyRecommendation(
  values: ConfigValues,
  previous: ConfigValues | null,
  next: ConfigValues | null,
  fallback: ConfigValues = {},
): ConfigValues {
  const result: Record<string, unknown> = { ...values };
  for (const [path, value] of Object.entries(previous ?? {})) {
    if (!sameValue(result[path], value)) continue;
    if (path in fallback) result[path] = fallback[path];
    else delete result[path];
  }
  return { ...result, ...next };
}

// Settings are JSON (an augmentation is an object): equal when they serialize alike.
function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

const OPTIMIZERS: Readonly<Record<string, string>> = { sgd: "SGD", adam: "Adam", adamw: "AdamW" };

function phrase(path: string, value: unknown): string {
  const text = typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
  switch (path) {
    case "batch_size":
      return `batch ${text}`;
    case "optimizer.lr":
      return `learning rate ${text}`;
    case "optimizer.name":
      return `${OPTIMIZERS[text] ?? text} optimizer`;
    case "schedule.name":
      return `${text.replaceAll("_", "-")} schedule`;
    case "augmentation":
      // The run's augmentation replaces the dataset version's whole (the worker takes one or the other).
      return `augmentation: ${describeAugmentation(value)} (instead of the dataset's)`;
    default: {
      const title = RUN_CONFIG_FIELDS.find((f) => f.path === path)?.schema.title ?? path;
      return `${title.toLowerCase()} ${text}`;
    }
  }
}

/**
 * The settings in words: "batch 16, Adam optimizer, learning rate 0.01, one-cycle schedule"; a
 * carried setting comes last, its own list after a colon ("…, augmentation: left-right flips").
 */
export function describeValues(values: ConfigValues): string {
  const entries = Object.entries(values);
  return [...entries.filter(([path]) => !CARRIED_SETTINGS.has(path)), ...entries.filter(([path]) => CARRIED_SETTINGS.has(path))]
    .map(([path, value]) => phrase(path, value))
    .join(", ");
}

// The server's augmentation settings (pipelines/datasets/augment.py), in words; `x` is the value.
const AUGMENTATION_WORDS: Readonly<Record<string, (x: number) => string>> = {
  flip_horizontal: () => "left-right flips",
  flip_vertical: () => "top-bottom flips",
  flip_depth: () => "slice-order flips",
  rotate_degrees: (x) => `in-plane rotation up to ${x}°`,
  crop_scale: (x) => `random crops of ${x} of each side`,
  intensity_jitter: (x) => `brightness and contrast jitter up to ${x}`,
  rotate_3d_degrees: (x) => `3-D rotation up to ${x}°`,
  scale_3d: (x) => `3-D zoom by up to ${Math.round(x * 100)}%`,
  elastic_3d: (x) => `elastic deformation of about ${x} voxels`,
  elastic_3d_sigma: (x) => `elastic smoothness ${x} voxels`,
  gaussian_noise: (x) => `Gaussian noise at ${x} of the sample's spread`,
};

/** The augmentation settings the server knows, with their defaults (an unset one is off). */
export const AUGMENTATION_FIELDS: Readonly<Record<string, { default?: unknown }>> = componentSchema("AugmentationSettings").properties ?? {};

/**
 * An augmentation (the run config's `augmentation`) in words, naming only what differs from the
 * server's defaults: "left-right flips, slice-order flips"; "none" for null or nothing set.
 */
export function describeAugmentation(augmentation: unknown): string {
  if (!isObject(augmentation)) return "none";
  const words = Object.entries(augmentation)
    .filter(([name, value]) => !sameValue(value, AUGMENTATION_FIELDS[name]?.default))
    .map(([name, value]) => AUGMENTATION_WORDS[name]?.(Number(value)) ?? `${name.replaceAll("_", " ")} ${String(value)}`);
  return words.length > 0 ? words.join(", ") : "none";
}
