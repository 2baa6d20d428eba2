/**
 * A segmentation run's Dice and IoU per class, from its test metrics (`dice_per_class`,
 * `iou_per_class`: one value per class index, null for a class in neither the prediction nor the
 * labels) and the class names of its plan.
 */
export interface ClassScore {
  name: string;
  /** null: the class was in neither the prediction nor the labels, so it has no score. */
  dice: number | null;
  iou: number | null;
}

function scores(value: unknown): (number | null)[] | null {
  if (!Array.isArray(value)) return null;
  return value.map((v) => (typeof v === "number" && Number.isFinite(v) ? v : null));
}

/** One row per class index; empty when the metrics hold no per-class figures. */
export function classScores(metrics: Record<string, unknown> | null | undefined, classes: readonly string[]): ClassScore[] {
  const dice = scores(metrics?.dice_per_class);
  const iou = scores(metrics?.iou_per_class);
  if (!dice || !iou) return [];
  const count = Math.max(dice.length, iou.length);
  return Array.from({ length: count }, (_, i) => ({
    name: classes[i] ?? `class ${i}`,
    dice: dice[i] ?? null,
    iou: iou[i] ?? null,
  }));
}

/** A score as a percentage with two decimals, or a dash for a class with nothing to score. */
export function formatScore(value: number | null): string {
  return value === null ? "—" : `${(value * 100).toFixed(2)}%`;
}
