/**
 * A template's recommended run settings on the Train form: a graph made from a shipped template
 * carries that template's partial run config (`recommended_config`, e.g. the tabular MLP's batch
 * 16, Adam at 0.01 and a one-cycle schedule), which the form pre-fills over the schema's defaults
 * and can take back again. Pure functions; TrainForm holds the state.
 */
import type { Graph } from "../../api/graphs";
import { type ConfigValues, RUN_CONFIG_FIELDS } from "./trainConfig";

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
 * keeping only the fields the form shows: what it doesn't know is left to the server's default.
 */
export function flattenConfig(config: Readonly<Record<string, unknown>>): ConfigValues {
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (isObject(value)) {
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
    if (result[path] !== value) continue;
    if (path in fallback) result[path] = fallback[path];
    else delete result[path];
  }
  return { ...result, ...next };
}

const OPTIMIZERS: Readonly<Record<string, string>> = { sgd: "SGD", adam: "Adam", adamw: "AdamW" };

function phrase(path: string, value: unknown): string {
  const text = String(value);
  switch (path) {
    case "batch_size":
      return `batch ${text}`;
    case "optimizer.lr":
      return `learning rate ${text}`;
    case "optimizer.name":
      return `${OPTIMIZERS[text] ?? text} optimizer`;
    case "schedule.name":
      return `${text.replaceAll("_", "-")} schedule`;
    default: {
      const title = RUN_CONFIG_FIELDS.find((f) => f.path === path)?.schema.title ?? path;
      return `${title.toLowerCase()} ${text}`;
    }
  }
}

/** The settings in words: "batch 16, Adam optimizer, learning rate 0.01, one-cycle schedule". */
export function describeValues(values: ConfigValues): string {
  return Object.entries(values)
    .map(([path, value]) => phrase(path, value))
    .join(", ");
}
