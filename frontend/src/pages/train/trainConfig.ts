/**
 * The Train form's config fields, read from the server's RunConfig schema (the `RunConfigRequest`
 * component of the OpenAPI snapshot): one field per leaf, addressed by its dotted path
 * ("optimizer.lr") as the server's 400 names it ("config.optimizer.lr"). This module only decides
 * presentation (which fields are basic, labels, grouping); ranges, choices, defaults and help text
 * all come from the schema, so a new RunConfig field appears under Advanced without a change here.
 */
import type { JsonSchema } from "../../api/layers";
import { componentSchema } from "../../api/openapiSchema";
import type { RunConfigRequest } from "../../api/runs";
import { enumValues, kindOf } from "../../editor/model/schema";

/** One leaf of the run config: its dotted path, its schema (labelled for the form), its section. */
export interface ConfigField {
  path: string;
  schema: JsonSchema;
  /** The top-level section it belongs to ("optimizer"), or "" for a top-level scalar. */
  section: string;
  /** Shown only while a sibling choice has this value (`schedule.step_size` with `step`). */
  when: { path: string; value: unknown } | null;
}

/** Config values the user set, by path; every other field is left to the server's default. */
export type ConfigValues = Readonly<Record<string, unknown>>;

// Edited elsewhere: the fine-tuning controls write init_weights and freeze.
const FINE_TUNING: ReadonlySet<string> = new Set(["init_weights", "freeze"]);
// No fields: a run without its own augmentation takes the dataset's (set on the Datasets page).
const NOT_IN_FORM: ReadonlySet<string> = new Set([...FINE_TUNING, "augmentation"]);

/** What a newcomer sets; everything else waits under Advanced. */
export const BASIC_PATHS: readonly string[] = ["epochs", "batch_size", "optimizer.name", "optimizer.lr", "precision.precision_mode"];

// pydantic titles a field with its name ("Lr", "Gpus", "Name"); these read better on a form.
const LABELS: Readonly<Record<string, string>> = {
  batch_size: "Batch size",
  max_attempts: "Worker retries",
  stats_every: "Statistics every (steps)",
  "optimizer.name": "Optimizer",
  "optimizer.lr": "Learning rate",
  "optimizer.weight_decay": "Weight decay",
  "schedule.name": "Schedule",
  "schedule.step_size": "Step size (epochs)",
  "schedule.warmup_fraction": "Warm-up fraction",
  "early_stopping.enabled": "Stop early",
  "early_stopping.min_delta": "Minimum improvement",
  "precision.precision_mode": "Precision",
  "precision.low_dtype": "Low precision",
  "device.kind": "Device",
  "device.gpus": "GPUs",
  "distributed.backend": "Backend",
  "distributed.overlap": "Overlap gradient sync",
  "distributed.sync_batchnorm": "Sync batch norm across GPUs",
  "distributed.compression": "Gradient compression",
  "distributed.powersgd_rank": "PowerSGD rank",
  "distributed.timeout_s": "Rank timeout (s)",
  target_scaling: "Target scaling (regression)",
};

/** Section headings under Advanced, in the order they are shown; "" is the top-level fields. */
export const SECTION_LABELS: Readonly<Record<string, string>> = {
  "": "Task and run",
  optimizer: "Optimizer",
  schedule: "Learning-rate schedule",
  early_stopping: "Early stopping",
  precision: "Precision",
  device: "Device",
  distributed: "Multi-GPU",
};

function isSection(schema: JsonSchema): boolean {
  return schema.type === "object" && schema.properties !== undefined;
}

/**
 * A field whose help text starts with one of a sibling choice's values ("step: epochs between
 * decays.", "dynamic: ...") only matters for that choice; the server writes them so.
 */
function conditionOf(description: string | undefined, siblings: readonly [string, JsonSchema][], section: string) {
  const prefix = /^(\w+):/.exec(description ?? "")?.[1];
  if (!prefix) return null;
  for (const [name, schema] of siblings) {
    if (kindOf(schema) === "enum" && enumValues(schema).includes(prefix)) return { path: section ? `${section}.${name}` : name, value: prefix };
  }
  return null;
}

/** The form's fields for a resolved RunConfig schema: top-level scalars and one level of sections. */
export function configFields(schema: JsonSchema): ConfigField[] {
  const fields: ConfigField[] = [];
  const leaf = (path: string, section: string, field: JsonSchema, siblings: [string, JsonSchema][]) => {
    fields.push({ path, section, schema: { ...field, title: LABELS[path] ?? field.title ?? path }, when: conditionOf(field.description, siblings, section) });
  };
  const top = Object.entries(schema.properties ?? {}).filter(([name]) => !NOT_IN_FORM.has(name));
  for (const [name, property] of top) {
    if (!isSection(property)) {
      leaf(name, "", property, top);
      continue;
    }
    const inner = Object.entries(property.properties ?? {});
    for (const [child, childSchema] of inner) leaf(`${name}.${child}`, name, childSchema, inner);
  }
  return fields;
}

/** The Train form's fields, from the schema snapshot the API types were generated with. */
export const RUN_CONFIG_FIELDS: readonly ConfigField[] = configFields(componentSchema("RunConfigRequest"));

/**
 * Top-level settings of `schema` the form shows no field for, which a template's recommendation
 * still carries to the run whole (augmentation); the fine-tuning fields stay with their controls.
 */
export function carriedSettings(schema: JsonSchema): string[] {
  return Object.keys(schema.properties ?? {}).filter((name) => NOT_IN_FORM.has(name) && !FINE_TUNING.has(name));
}

/** The carried settings of the schema snapshot: the form's values hold each whole, under its name. */
export const CARRIED_SETTINGS: ReadonlySet<string> = new Set(carriedSettings(componentSchema("RunConfigRequest")));

/** The server's names for the form's fields, so a 400 lands under the field it names. */
export const SERVER_FIELDS: readonly string[] = ["graph_version", "dataset_version", ...RUN_CONFIG_FIELDS.map((f) => `config.${f.path}`)];

/** The value the form shows for `field`: the user's, or the schema's default. */
export function valueOf(field: ConfigField | undefined, values: ConfigValues): unknown {
  if (!field) return undefined;
  return field.path in values ? values[field.path] : field.schema.default;
}

const FIELD_BY_PATH = new Map(RUN_CONFIG_FIELDS.map((field) => [field.path, field]));

/** How many devices the run asks for: GPUs per node times nodes (a field the schema lacks counts 1). */
export function devicesAskedFor(values: ConfigValues): number {
  const count = (path: string) => {
    const value = Number(valueOf(FIELD_BY_PATH.get(path), values) ?? 1);
    return Number.isFinite(value) && value > 0 ? value : 1;
  };
  return count("device.gpus") * count("device.nodes");
}

/**
 * Whether `field` applies to the values chosen: its sibling choice, if any, is set to match, and a
 * data-parallel setting ("distributed.*") only once the run asks for more than one device.
 */
export function isShown(field: ConfigField, values: ConfigValues): boolean {
  if (field.section === "distributed" && devicesAskedFor(values) < 2) return false;
  return field.when === null || valueOf(FIELD_BY_PATH.get(field.when.path), values) === field.when.value;
}

/**
 * The run request's config: only the values set (by the user, or a template's recommendation),
 * nested by path, a carried setting ("augmentation") as it is; the server fills in the rest.
 */
export function toRunConfig(values: ConfigValues): RunConfigRequest {
  const config: Record<string, unknown> = {};
  for (const [path, value] of Object.entries(values)) {
    const [head, ...rest] = path.split(".") as [string, ...string[]];
    if (rest.length === 0) config[head] = value;
    else config[head] = { ...(config[head] as Record<string, unknown> | undefined), [rest.join(".")]: value };
  }
  return config as RunConfigRequest;
}

/** The server's errors for config fields, by the form's path ("config.optimizer.lr" → "optimizer.lr"). */
export function configErrors(fields: Readonly<Record<string, string[]>>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(fields).flatMap(([name, messages]) => (name.startsWith("config.") ? [[name.slice(7), messages]] : [])));
}

/**
 * The values with the run's task set to a dataset version's, which a run on it must have (a
 * segmentation set trains for segmentation); "" (not known) leaves the schema's default. The loss
 * and the metrics follow on the server, which picks the task's own when they are left unset.
 */
export function withTask(values: ConfigValues, task: string | undefined): ConfigValues {
  const result: Record<string, unknown> = { ...values };
  if (task) result.task = task;
  else delete result.task;
  return result;
}

/**
 * Sensible defaults for a dataset: a batch that fits its size. A small dataset gets a batch of
 * about a tenth of its samples (a power of two, 2 to 32), so an epoch is some eight optimizer steps
 * rather than one: forty CT volumes in batches of 32 would give a model one step an epoch, and
 * batch norm's running statistics no time to settle.
 */
export function defaultsFor(samples: number | undefined): ConfigValues {
  return samples !== undefined && samples > 0 && samples < 2000 ? { batch_size: smallBatch(samples) } : {};
}

function smallBatch(samples: number): number {
  const target = Math.max(2, Math.min(32, samples / 10));
  return 2 ** Math.floor(Math.log2(target));
}
