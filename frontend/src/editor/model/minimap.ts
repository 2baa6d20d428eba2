/**
 * Minimap colours: a layer with errors in red (a folded block holding one too), else, while a
 * run is on the canvas, the precision the run gives the layer; the selection in the accent.
 */
import type { CanvasNode } from "./groups";

export const ERROR_COLOR = "#dc2626";
export const PRECISION_COLOR: Record<string, string> = { fp32: "#6366f1", fp16: "#16a34a", bf16: "#ca8a04", dynamic: "#0891b2" };
const SELECTED_COLOR = "#4f46e5";
const FOLD_COLOR = "#64748b";
const LAYER_COLOR = "#9aa3bd";

export function minimapColor(
  node: CanvasNode,
  errors: Readonly<Record<string, { errors: readonly unknown[] } | undefined>>,
  precision: Readonly<Record<string, { precision: string | null } | undefined>>,
): string {
  if (node.type === "groupFrame") return "transparent";
  if (node.type === "fold") return node.data.members.some((id) => (errors[id]?.errors.length ?? 0) > 0) ? ERROR_COLOR : FOLD_COLOR;
  if ((errors[node.id]?.errors.length ?? 0) > 0) return ERROR_COLOR;
  if (node.selected) return SELECTED_COLOR;
  const run = precision[node.id]?.precision;
  return (run && PRECISION_COLOR[run]) || LAYER_COLOR;
}
