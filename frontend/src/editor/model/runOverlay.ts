/**
 * What a training run says about each layer, for the canvas: the precision the engine runs it in,
 * its gradient health, and where NaN/Inf first appeared. Layer names in run events are graph node
 * ids (compiled submodules are named after nodes). Pure functions over run events.
 */
import type { RunEvent } from "../../lib/runEvents";

/** Gradient norm against the median over layers: far below is vanishing, far above exploding. */
export type GradHealth = "vanishing" | "low" | "normal" | "high" | "exploding";

export interface LayerOverlay {
  precision: string | null;
  gradNorm: number | null;
  /** gradNorm divided by the median gradNorm over the layers reported at that step. */
  gradRatio: number | null;
  health: GradHealth | null;
}

export interface NonfiniteMark {
  layer: string | null;
  step: number | null;
}

export interface RunOverlayState {
  layers: Readonly<Record<string, LayerOverlay>>;
  /** The first NaN/Inf the run reported (kept: later ones are usually its consequences). */
  nonfinite: NonfiniteMark | null;
  status: string | null;
  /** The step the per-layer figures come from. */
  step: number | null;
  lastEventId: number;
}

export const EMPTY_OVERLAY: RunOverlayState = { layers: {}, nonfinite: null, status: null, step: null, lastEventId: 0 };

// Thresholds on the ratio to the median: a factor 100 off is a problem, 10 off worth a look.
const VANISHING = 0.01;
const LOW = 0.1;
const HIGH = 10;
const EXPLODING = 100;
const TINY_NORM = 1e-8;

export function gradHealth(norm: number, median: number): GradHealth {
  if (!Number.isFinite(norm)) return "exploding";
  if (norm < TINY_NORM) return "vanishing";
  if (!(median > 0)) return "normal";
  const ratio = norm / median;
  if (ratio < VANISHING) return "vanishing";
  if (ratio < LOW) return "low";
  if (ratio > EXPLODING) return "exploding";
  if (ratio > HIGH) return "high";
  return "normal";
}

export function median(values: readonly number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function num(value: unknown): number | null {
  return typeof value === "number" ? value : null;
}

function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(record(value))) if (typeof item === "string") out[key] = item;
  return out;
}

// Figures are shown to two or three digits; rounding them keeps a node from re-rendering for noise.
function rounded(value: number, digits: number): number {
  return Number.isFinite(value) ? Number(value.toPrecision(digits)) : value;
}

function sameLayer(a: LayerOverlay | undefined, b: LayerOverlay): boolean {
  return a !== undefined && a.precision === b.precision && a.gradNorm === b.gradNorm && a.gradRatio === b.gradRatio && a.health === b.health;
}

/** `next` with each layer that did not change replaced by its `previous` object, so selectors see no change. */
function share(previous: Readonly<Record<string, LayerOverlay>>, next: Record<string, LayerOverlay>): Readonly<Record<string, LayerOverlay>> {
  let changed = Object.keys(previous).length !== Object.keys(next).length;
  for (const [id, layer] of Object.entries(next)) {
    if (sameLayer(previous[id], layer)) next[id] = previous[id]!;
    else changed = true;
  }
  return changed ? next : previous;
}

/** The overlay after one more event (events arrive in id order). Unchanged parts keep their identity. */
export function foldOverlay(state: RunOverlayState, event: RunEvent): RunOverlayState {
  if (event.id <= state.lastEventId) return state;
  const base = { ...state, lastEventId: event.id };
  const data = event.data;
  switch (event.type) {
    case "run.status":
      return { ...base, status: typeof data.status === "string" ? data.status : state.status };
    case "run.nonfinite":
      if (state.nonfinite !== null) return base;
      return { ...base, nonfinite: { layer: typeof data.layer === "string" ? data.layer : null, step: num(data.step) } };
    case "run.progress":
      return { ...base, layers: progressLayers(state.layers, data), step: num(data.step) ?? state.step };
    case "run.epoch":
      return { ...base, layers: epochLayers(state.layers, data) };
    default:
      return base;
  }
}

/** A progress event carries the precision map and the gradient norms of that step. */
function progressLayers(previous: Readonly<Record<string, LayerOverlay>>, data: Record<string, unknown>): Readonly<Record<string, LayerOverlay>> {
  const precision = stringMap(data.precision);
  const norms: Record<string, number> = {};
  for (const [id, value] of Object.entries(record(data.gradients))) if (typeof value === "number") norms[id] = value;
  if (Object.keys(precision).length === 0 && Object.keys(norms).length === 0) return previous;
  const mid = median(Object.values(norms));
  const next: Record<string, LayerOverlay> = {};
  for (const id of new Set([...Object.keys(previous), ...Object.keys(precision), ...Object.keys(norms)])) {
    const norm = norms[id] ?? null;
    next[id] = {
      precision: precision[id] ?? previous[id]?.precision ?? null,
      gradNorm: norm !== null ? rounded(norm, 3) : null,
      gradRatio: norm !== null && mid > 0 && Number.isFinite(norm) ? rounded(norm / mid, 2) : null,
      health: norm !== null ? gradHealth(norm, mid) : null,
    };
  }
  return share(previous, next);
}

/** An epoch event carries the precision summary; its `layers` is the decision at the epoch's end. */
function epochLayers(previous: Readonly<Record<string, LayerOverlay>>, data: Record<string, unknown>): Readonly<Record<string, LayerOverlay>> {
  const precision = stringMap(record(data.precision).layers);
  if (Object.keys(precision).length === 0) return previous;
  const next: Record<string, LayerOverlay> = {};
  for (const id of new Set([...Object.keys(previous), ...Object.keys(precision)])) {
    const old = previous[id];
    next[id] = { precision: precision[id] ?? old?.precision ?? null, gradNorm: old?.gradNorm ?? null, gradRatio: old?.gradRatio ?? null, health: old?.health ?? null };
  }
  return share(previous, next);
}

/** The overlay after `events` (in id order), starting from `state`. */
export function foldEvents(state: RunOverlayState, events: readonly RunEvent[]): RunOverlayState {
  return events.reduce(foldOverlay, state);
}

export function nonfiniteMessage(mark: NonfiniteMark): string {
  const where = mark.layer ? `layer ${mark.layer}` : "an unknown layer (the input or the loss)";
  return `NaN/Inf first appeared in ${where}${mark.step !== null ? ` at step ${mark.step}` : ""}.`;
}
