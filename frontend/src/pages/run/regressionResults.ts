/** A regression run's test figures as the run page shows them: the scalars, the predicted-vs-actual
 * sample and the residual histogram, read defensively from the run's `test_metrics` JSON. */

export interface RegressionScatter {
  actual: number[];
  predicted: number[];
  /** Test rows the sample was drawn from (the scatter keeps at most a few hundred). */
  total: number;
}

export interface ResidualHistogram {
  counts: number[];
  /** `counts.length + 1` bin edges, in the target's units. */
  edges: number[];
}

export interface RegressionResults {
  r2: number | null;
  mae: number | null;
  rmse: number | null;
  loss: number | null;
  scatter: RegressionScatter | null;
  histogram: ResidualHistogram | null;
}

export interface TargetScaling {
  kind: "standardize" | "log";
  mean: number;
  std: number;
}

type Json = Record<string, unknown>;

function asObject(value: unknown): Json | null {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Json) : null;
}

function finite(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function numbers(value: unknown): number[] | null {
  return Array.isArray(value) && value.every((v) => typeof v === "number" && Number.isFinite(v)) ? (value as number[]) : null;
}

/** The regression figures of `test_metrics`, or null when it holds none (a classifier, a run not done). */
export function regressionResults(testMetrics: unknown): RegressionResults | null {
  const metrics = asObject(testMetrics);
  if (!metrics || !("rmse" in metrics)) return null;
  const scatterJson = asObject(metrics.predicted_vs_actual);
  const actual = numbers(scatterJson?.actual);
  const predicted = numbers(scatterJson?.predicted);
  const scatter =
    actual && predicted && actual.length === predicted.length && actual.length > 0
      ? { actual, predicted, total: finite(scatterJson?.total) ?? actual.length }
      : null;
  const histogramJson = asObject(metrics.residual_histogram);
  const counts = numbers(histogramJson?.counts);
  const edges = numbers(histogramJson?.edges);
  const histogram = counts && edges && edges.length === counts.length + 1 && counts.length > 0 ? { counts, edges } : null;
  return { r2: finite(metrics.r2), mae: finite(metrics.mae), rmse: finite(metrics.rmse), loss: finite(metrics.loss), scatter, histogram };
}

/** The target scaling a run trained with (its plan's `target_transform`), or null (raw target). */
export function targetScaling(plan: unknown): TargetScaling | null {
  const transform = asObject(asObject(plan)?.target_transform);
  const mean = finite(transform?.mean);
  const std = finite(transform?.std);
  if (!transform || mean === null || std === null) return null;
  if (transform.kind !== "standardize" && transform.kind !== "log") return null;
  return { kind: transform.kind, mean, std };
}

/** A figure in the data's units, four significant digits with thousands separators: 12,350 or 0.4211. */
export function formatFigure(value: number | null): string {
  if (value === null) return "—";
  const rounded = Number(value.toPrecision(4));
  return Math.abs(rounded) >= 1000 ? rounded.toLocaleString("en-US") : String(rounded);
}

/** R² to three decimals (it is a fraction of variance, at most 1; negative is worse than the mean). */
export function formatR2(value: number | null): string {
  return value === null ? "—" : value.toFixed(3);
}
