import { memo, useId } from "react";

import { linePath, scale } from "../../lib/chart";
import type { Point } from "../../lib/runEvents";

export interface RocCurve {
  name: string;
  /** (false positive rate, true positive rate) from (0, 0) to (1, 1). */
  points: readonly Point[];
  auc: number;
  color: string;
  /** Drawn thicker and dashed: an average over the classes rather than one class. */
  average?: boolean;
}

interface RocChartProps {
  title: string;
  curves: readonly RocCurve[];
  size?: number;
}

const MARGIN = { top: 10, right: 12, bottom: 32, left: 40 };
const TICKS = [0, 0.25, 0.5, 0.75, 1];

/** ROC curves on the unit square, with the diagonal of a guess for reference. */
export const RocChart = memo(function RocChart({ title, curves, size = 260 }: RocChartProps) {
  const titleId = useId();
  const x = scale({ min: 0, max: 1 }, MARGIN.left, size - MARGIN.right);
  const y = scale({ min: 0, max: 1 }, size - MARGIN.bottom, MARGIN.top);
  return (
    <figure className="chart">
      <figcaption id={titleId} className="chart__title">
        {title}
      </figcaption>
      <svg role="img" aria-labelledby={titleId} data-curves={curves.length} viewBox={`0 0 ${size} ${size}`} className="chart__svg chart__svg--square">
        {TICKS.map((t) => (
          <g key={t}>
            <line x1={MARGIN.left} x2={size - MARGIN.right} y1={y(t)} y2={y(t)} className="chart__grid" />
            <text x={MARGIN.left - 6} y={y(t) + 4} textAnchor="end" className="chart__tick">
              {t}
            </text>
            <text x={x(t)} y={size - MARGIN.bottom + 14} textAnchor="middle" className="chart__tick">
              {t}
            </text>
          </g>
        ))}
        <text x={(MARGIN.left + size - MARGIN.right) / 2} y={size - 2} textAnchor="middle" className="chart__tick">
          false positive rate
        </text>
        <text transform={`translate(10 ${(MARGIN.top + size - MARGIN.bottom) / 2}) rotate(-90)`} textAnchor="middle" className="chart__tick">
          true positive rate
        </text>
        <line data-testid="roc-chance" x1={x(0)} y1={y(0)} x2={x(1)} y2={y(1)} className="chart__grid" strokeDasharray="4 4" />
        {curves.map((c) => (
          <path
            key={c.name}
            data-curve={c.name}
            d={linePath(c.points, x, y)}
            fill="none"
            stroke={c.color}
            strokeWidth={c.average ? 2.5 : 1.5}
            strokeDasharray={c.average ? "6 3" : undefined}
          />
        ))}
      </svg>
      {curves.length === 0 && <p className="chart__empty muted">No ROC curve yet.</p>}
      <ul className="chart__legend">
        {curves.map((c) => (
          <li key={c.name}>
            <span className="chart__swatch" style={{ background: c.color }} aria-hidden="true" /> {c.name}: AUC {c.auc.toFixed(3)}
          </li>
        ))}
      </ul>
    </figure>
  );
});
