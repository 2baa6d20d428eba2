import type { RunConfig } from "../../api/runs";

/** The train form's values, all as the controls hold them (strings). */
export interface TrainValues {
  graph_version: string;
  dataset_version: string;
  task: string;
  loss: string;
  optimizer: string;
  lr: string;
  schedule: string;
  epochs: string;
  batch_size: string;
  precision_mode: string;
  threshold: string;
  device: string;
  gpus: string;
}

export const LOSSES: Record<string, string[]> = {
  classification: ["cross_entropy"],
  regression: ["mse", "l1", "smooth_l1"],
  segmentation: ["cross_entropy", "dice", "dice_cross_entropy"],
};

export const DEFAULTS: TrainValues = {
  graph_version: "",
  dataset_version: "",
  task: "classification",
  loss: "cross_entropy",
  optimizer: "adam",
  lr: "0.001",
  schedule: "none",
  epochs: "10",
  batch_size: "64",
  precision_mode: "fp32",
  threshold: "0.01",
  device: "auto",
  gpus: "1",
};

/** The server's field names (as its 400 names them) for each control. */
export const FIELD_OF: Record<keyof TrainValues, string> = {
  graph_version: "graph_version",
  dataset_version: "dataset_version",
  task: "config.task",
  loss: "config.loss",
  optimizer: "config.optimizer.name",
  lr: "config.optimizer.lr",
  schedule: "config.schedule.name",
  epochs: "config.epochs",
  batch_size: "config.batch_size",
  precision_mode: "config.precision.precision_mode",
  threshold: "config.precision.threshold",
  device: "config.device.kind",
  gpus: "config.device.gpus",
};

export const SERVER_FIELDS: readonly string[] = Object.values(FIELD_OF);

function number(text: string): number | string {
  const value = Number(text);
  // Sent as typed when it is not a number, so the server's message names the field.
  return text.trim() !== "" && Number.isFinite(value) ? value : text;
}

/** The run request body for the form's values. */
export function toRunConfig(values: TrainValues): RunConfig {
  const config: RunConfig = {
    task: values.task,
    loss: values.loss,
    optimizer: { name: values.optimizer, lr: number(values.lr) as number },
    schedule: { name: values.schedule },
    epochs: number(values.epochs) as number,
    batch_size: number(values.batch_size) as number,
    device: { kind: values.device, gpus: number(values.gpus) as number },
    precision: { precision_mode: values.precision_mode },
  };
  if (values.precision_mode === "dynamic") config.precision!.threshold = number(values.threshold) as number;
  return config;
}

/**
 * Sensible defaults for a dataset: the task it was ingested for, and a batch that fits its size.
 * A small dataset gets a batch of about a tenth of its samples (a power of two, 2 to 32), so an
 * epoch is some eight optimizer steps rather than one: forty CT volumes in batches of 32 would
 * give a model one step an epoch, and batch norm's running statistics no time to settle.
 */
export function defaultsFor(task: string | undefined, samples: number | undefined): Partial<TrainValues> {
  const out: Partial<TrainValues> = {};
  if (task && task in LOSSES) {
    out.task = task;
    out.loss = LOSSES[task]![0]!;
  }
  if (samples !== undefined && samples > 0 && samples < 2000) out.batch_size = String(smallBatch(samples));
  return out;
}

function smallBatch(samples: number): number {
  const target = Math.max(2, Math.min(32, samples / 10));
  return 2 ** Math.floor(Math.log2(target));
}
