/**
 * The ROC curves the engine stores with a classification evaluation (`roc_curve` in an epoch's
 * `val`, or in the run's test metrics): `{classes: [curve | null, ...], micro: curve | null}`,
 * a curve being `{fpr: number[], tpr: number[], auc: number}`.
 */
import type { RocCurve } from "../../components/charts/RocChart";
import type { Point } from "../../lib/runEvents";
import type { RunEvent } from "../../lib/runEvents";

const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#9333ea", "#ea580c"];
/** More classes than this draw only the average: a dozen crossing lines read as none. */
export const MAX_CLASS_CURVES = 10;

function curvePoints(value: unknown): { points: Point[]; auc: number } | null {
  if (typeof value !== "object" || value === null) return null;
  const { fpr, tpr, auc } = value as { fpr?: unknown; tpr?: unknown; auc?: unknown };
  if (!Array.isArray(fpr) || !Array.isArray(tpr) || fpr.length !== tpr.length || typeof auc !== "number") return null;
  const points: Point[] = [];
  for (let i = 0; i < fpr.length; i += 1) {
    const x: unknown = fpr[i];
    const y: unknown = tpr[i];
    if (typeof x !== "number" || typeof y !== "number") return null;
    points.push({ x, y });
  }
  return { points, auc };
}

/** Chart curves from a stored `roc_curve`: one per class (named from `classes`) and the micro average. */
export function rocSeries(value: unknown, classes: readonly string[]): RocCurve[] {
  if (typeof value !== "object" || value === null) return [];
  const stored = value as { classes?: unknown; micro?: unknown };
  const curves: RocCurve[] = [];
  const perClass = Array.isArray(stored.classes) ? (stored.classes as unknown[]) : [];
  if (perClass.length <= MAX_CLASS_CURVES) {
    perClass.forEach((item, index) => {
      const found = curvePoints(item);
      if (found) curves.push({ name: classes[index] ?? String(index), ...found, color: PALETTE[index % PALETTE.length]! });
    });
  }
  const micro = curvePoints(stored.micro);
  if (micro) curves.push({ name: "micro average", ...micro, color: "#111827", average: true });
  return curves;
}

/** The newest epoch's validation `roc_curve`, or null. */
export function latestValidationRoc(events: readonly RunEvent[]): unknown {
  for (let i = events.length - 1; i >= 0; i -= 1) {
    const event = events[i]!;
    if (event.type !== "run.epoch") continue;
    const val = event.data.val;
    if (typeof val === "object" && val !== null && "roc_curve" in val) return (val as { roc_curve: unknown }).roc_curve;
  }
  return null;
}
