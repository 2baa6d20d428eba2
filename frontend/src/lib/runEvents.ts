/**
 * A run's events as one ordered list, whichever way they arrived: the REST history read first
 * and the WebSocket stream after it (or again after a reconnect) overlap, so events are merged
 * by their stored id. The chart series are pure functions of that list.
 */
import type { StoredRunEvent } from "../api/runs";

/** An event as the socket sends it: the payload flat, with the stored copy's `id` and `at`. */
export interface LiveRunEvent {
  type: string;
  id?: number;
  at?: string;
  [key: string]: unknown;
}

export interface RunEvent {
  id: number;
  type: string;
  data: Record<string, unknown>;
}

export function fromStored(event: StoredRunEvent): RunEvent {
  return { id: event.id, type: event.type, data: event.data };
}

/** A socket message as a run event, or null for messages that are not stored events (hello, pong). */
export function fromLive(message: LiveRunEvent): RunEvent | null {
  if (typeof message.id !== "number" || !message.type.startsWith("run.")) return null;
  const { id, at: _at, run: _run, ...data } = message;
  return { id, type: message.type, data };
}

/** `existing` plus those of `incoming` not seen yet, in id order. Returns `existing` itself when nothing is new. */
export function mergeEvents(existing: readonly RunEvent[], incoming: readonly RunEvent[]): readonly RunEvent[] {
  const seen = new Set(existing.map((event) => event.id));
  const fresh = incoming.filter((event) => !seen.has(event.id) && (seen.add(event.id), true));
  if (fresh.length === 0) return existing;
  const last = existing.length > 0 ? existing[existing.length - 1]!.id : -Infinity;
  const merged = [...existing, ...fresh];
  if (fresh.some((event) => event.id < last) || !isSorted(fresh)) merged.sort((a, b) => a.id - b.id);
  return merged;
}

function isSorted(events: readonly RunEvent[]): boolean {
  return events.every((event, index) => index === 0 || events[index - 1]!.id < event.id);
}

export interface Point {
  x: number;
  y: number;
}

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** Training loss per reporting step. */
export function stepLoss(events: readonly RunEvent[]): Point[] {
  const points: Point[] = [];
  for (const event of events) {
    if (event.type !== "run.progress") continue;
    const step = num(event.data.step);
    const loss = num(event.data.loss);
    if (step !== null && loss !== null) points.push({ x: step, y: loss });
  }
  return points;
}

export interface EpochSeries {
  trainLoss: Point[];
  valLoss: Point[];
  /** Validation metric per epoch (accuracy for classification, else the first numeric one). */
  metric: Point[];
  metricName: string;
}

/** Per-epoch curves; an epoch reported twice (a resumed attempt) keeps its latest values. */
export function epochSeries(events: readonly RunEvent[]): EpochSeries {
  const byEpoch = new Map<number, Record<string, unknown>>();
  for (const event of events) {
    if (event.type !== "run.epoch") continue;
    const epoch = num(event.data.epoch);
    if (epoch !== null) byEpoch.set(epoch, event.data);
  }
  const epochs = [...byEpoch.keys()].sort((a, b) => a - b);
  const firstVal = epochs.length > 0 ? valOf(byEpoch.get(epochs[0]!)!) : {};
  const metricName =
    "accuracy" in firstVal ? "accuracy" : (Object.keys(firstVal).find((k) => k !== "loss" && num(firstVal[k]) !== null) ?? "accuracy");
  const series: EpochSeries = { trainLoss: [], valLoss: [], metric: [], metricName };
  for (const epoch of epochs) {
    const data = byEpoch.get(epoch)!;
    const val = valOf(data);
    const x = epoch + 1;
    const train = num(data.train_loss);
    if (train !== null) series.trainLoss.push({ x, y: train });
    const valLoss = num(val.loss);
    if (valLoss !== null) series.valLoss.push({ x, y: valLoss });
    const metric = num(val[metricName]);
    if (metric !== null) series.metric.push({ x, y: metric });
  }
  return series;
}

function valOf(data: Record<string, unknown>): Record<string, unknown> {
  return typeof data.val === "object" && data.val !== null ? (data.val as Record<string, unknown>) : {};
}

/** The newest validation confusion matrix, or null. */
export function latestConfusion(events: readonly RunEvent[]): number[][] | null {
  for (let i = events.length - 1; i >= 0; i -= 1) {
    const event = events[i]!;
    if (event.type !== "run.epoch") continue;
    const matrix = valOf(event.data).confusion_matrix;
    if (Array.isArray(matrix)) return matrix as number[][];
  }
  return null;
}

export interface LiveProgress {
  epoch: number | null;
  step: number | null;
  etaSeconds: number | null;
  samplesPerSecond: number | null;
  status: string | null;
}

export function latestProgress(events: readonly RunEvent[]): LiveProgress {
  const out: LiveProgress = { epoch: null, step: null, etaSeconds: null, samplesPerSecond: null, status: null };
  for (const event of events) {
    if (event.type === "run.status" && typeof event.data.status === "string") out.status = event.data.status;
    if (event.type === "run.progress" || event.type === "run.epoch") {
      out.epoch = num(event.data.epoch) ?? out.epoch;
      out.step = num(event.data.step) ?? out.step;
      out.samplesPerSecond = num(event.data.samples_per_s) ?? out.samplesPerSecond;
      if (event.type === "run.progress") out.etaSeconds = num(event.data.eta_s);
    }
  }
  return out;
}

/** Log lines: run.log messages, status changes and non-finite warnings, oldest first. */
export function logLines(events: readonly RunEvent[]): { id: number; level: string; text: string }[] {
  const lines: { id: number; level: string; text: string }[] = [];
  for (const event of events) {
    if (event.type === "run.log") {
      lines.push({ id: event.id, level: String(event.data.level ?? "info"), text: String(event.data.message ?? "") });
    } else if (event.type === "run.status") {
      const error = event.data.error as { message?: string } | undefined;
      lines.push({ id: event.id, level: event.data.status === "failed" ? "error" : "info", text: `status: ${String(event.data.status)}${error?.message ? ` (${error.message})` : ""}` });
    } else if (event.type === "run.nonfinite") {
      lines.push({ id: event.id, level: "warning", text: `NaN/Inf at step ${String(event.data.step)} in layer ${String(event.data.layer ?? "?")}` });
    } else if (event.type === "run.epoch") {
      const val = valOf(event.data);
      const acc = num(val.accuracy);
      lines.push({ id: event.id, level: "info", text: `epoch ${Number(event.data.epoch) + 1}: train loss ${fmt(num(event.data.train_loss))}${acc !== null ? `, val accuracy ${fmt(acc)}` : ""}` });
    }
  }
  return lines;
}

function fmt(value: number | null): string {
  return value === null ? "?" : value.toFixed(4);
}

/** Share of the run done, 0..1: steps against steps per epoch (known after the first epoch), else whole epochs. */
export function runFraction(events: readonly RunEvent[], epochs: number, status: string): number {
  if (status === "succeeded") return 1;
  let stepsPerEpoch: number | null = null;
  let epochsDone = 0;
  let step = 0;
  for (const event of events) {
    const s = num(event.data.step);
    if (event.type === "run.epoch") {
      const epoch = num(event.data.epoch) ?? 0;
      epochsDone = Math.max(epochsDone, epoch + 1);
      if (epoch === 0 && s !== null) stepsPerEpoch = s;
    }
    if ((event.type === "run.progress" || event.type === "run.epoch") && s !== null) step = Math.max(step, s);
  }
  if (epochs <= 0) return 0;
  const fraction = stepsPerEpoch ? step / (stepsPerEpoch * epochs) : epochsDone / epochs;
  return Math.min(1, Math.max(0, fraction));
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}
