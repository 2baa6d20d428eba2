import type { Point } from "../../lib/runEvents";

/** One decision of dynamic precision, as the engine records it (pipelines/training/precision.py). */
export interface PrecisionDecision {
  step: number;
  layer: string;
  to: string;
  error: number;
  reason: string;
  detail: string;
}

/** A run's precision report, read defensively from its JSON (older runs lack some fields). */
export interface PrecisionReport {
  mode: string;
  lowDtype: string | null;
  threshold: number | null;
  lowFlopsShare: number | null;
  probes: number;
  layers: Record<string, string>;
  decisions: PrecisionDecision[];
  /** Per layer: its relative error at each probe (x = step). */
  relative: Map<string, Point[]>;
  /** Per layer: its signal error (of the sample-to-sample variation) at each probe. */
  signal: Map<string, Point[]>;
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const record = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

function addPoints(into: Map<string, Point[]>, step: number, errors: Record<string, unknown>): void {
  for (const [layer, value] of Object.entries(errors)) {
    const y = num(value);
    if (y === null) continue;
    const points = into.get(layer) ?? [];
    points.push({ x: step, y });
    into.set(layer, points);
  }
}

/** The run's ``precision`` JSON as a report, or null when the run used no low precision at all. */
export function precisionReport(raw: unknown): PrecisionReport | null {
  const p = record(raw);
  if (typeof p.mode !== "string") return null;
  const relative = new Map<string, Point[]>();
  const signal = new Map<string, Point[]>();
  for (const entry of Array.isArray(p.error_history) ? p.error_history : []) {
    const probe = record(entry);
    const step = num(probe.step);
    if (step === null) continue;
    addPoints(relative, step, record(probe.errors));
    addPoints(signal, step, record(probe.signal));
  }
  const decisions: PrecisionDecision[] = (Array.isArray(p.decisions) ? p.decisions : []).map((d) => {
    const r = record(d);
    return {
      step: num(r.step) ?? 0,
      layer: String(r.layer ?? ""),
      to: String(r.to ?? ""),
      error: num(r.error) ?? 0,
      reason: typeof r.reason === "string" ? r.reason : "error",
      detail: typeof r.detail === "string" ? r.detail : "",
    };
  });
  const layers = Object.fromEntries(Object.entries(record(p.layers)).map(([k, v]) => [k, String(v)]));
  return {
    mode: p.mode,
    lowDtype: typeof p.low_dtype === "string" ? p.low_dtype : null,
    threshold: num(p.threshold),
    lowFlopsShare: num(p.low_precision_flops_share),
    probes: num(p.probes) ?? 0,
    layers,
    decisions,
    relative,
    signal,
  };
}

/** log10 of each point (errors span orders of magnitude); zeros sit at a floor of 1e-8. */
export function log10Points(points: readonly Point[]): Point[] {
  return points.map((p) => ({ x: p.x, y: Math.log10(Math.max(p.y, 1e-8)) }));
}

/** The ``count`` layers with the largest error at any probe, largest first. */
export function worstLayers(series: Map<string, Point[]>, count: number): string[] {
  return [...series.entries()]
    .map(([layer, points]) => [layer, Math.max(...points.map((p) => p.y))] as const)
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([layer]) => layer);
}
