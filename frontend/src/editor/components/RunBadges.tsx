import { memo } from "react";

import type { GradHealth, LayerOverlay } from "../model/runOverlay";

const HEALTH_TEXT: Record<GradHealth, string> = {
  vanishing: "vanishing gradient",
  low: "weak gradient",
  normal: "healthy gradient",
  high: "strong gradient",
  exploding: "exploding gradient",
};

function ratioText(ratio: number | null): string {
  return ratio === null ? "" : ` (${ratio < 0.01 ? ratio.toExponential(0) : ratio.toPrecision(2)}× the median)`;
}

/** A layer's figures from the run on the canvas: its precision, gradient health, and a NaN/Inf mark. */
export const RunBadges = memo(function RunBadges({ nodeId, layer, nonfinite }: { nodeId: string; layer: LayerOverlay | undefined; nonfinite: boolean }) {
  const health = layer?.health ?? null;
  const gradTitle = health && layer?.gradNorm != null ? `${HEALTH_TEXT[health]}: norm ${layer.gradNorm.toPrecision(3)}${ratioText(layer.gradRatio)}` : null;
  return (
    <div className="layer-node__run" data-testid={`run-${nodeId}`}>
      {layer?.precision && (
        <span className={`run-badge run-badge--${layer.precision}`} title={`Runs in ${layer.precision}`} data-testid={`precision-${nodeId}`}>
          {layer.precision}
        </span>
      )}
      {health && gradTitle && (
        <span className={`run-grad run-grad--${health}`} title={gradTitle} aria-label={gradTitle} data-testid={`grad-${nodeId}`}>
          ∇ {health === "vanishing" || health === "exploding" ? health : layer!.gradRatio !== null ? `${layer!.gradRatio.toPrecision(2)}×` : ""}
        </span>
      )}
      {nonfinite && (
        <span className="run-badge run-badge--nonfinite">
          NaN/Inf starts here
        </span>
      )}
    </div>
  );
});
