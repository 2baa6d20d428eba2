import { memo, useId } from "react";

import { extent, linePath, scale, thin, ticks } from "../../lib/chart";
import type { Point } from "../../lib/runEvents";

export interface Series {
  name: string;
  points: readonly Point[];
  color: string;
}

interface LineChartProps {
  title: string;
  series: readonly Series[];
  xLabel: string;
  width?: number;
  height?: number;
}

const MARGIN = { top: 10, right: 12, bottom: 28, left: 48 };
const COMPACT = new Intl.NumberFormat("en-US", { notation: "compact", maximumSignificantDigits: 3 });

/** A y tick that fits the margin: 0.0005 as 5e-4, a regression's squared error of 1.5e9 as 1.5B. */
function tickLabel(t: number): string {
  if (Math.abs(t) < 1e-3 && t !== 0) return t.toExponential(0);
  return Math.abs(t) >= 1e4 ? COMPACT.format(t) : String(Number(t.toPrecision(3)));
}

/** A small SVG line chart; several series share the axes. */
export const LineChart = memo(function LineChart({ title, series, xLabel, width = 420, height = 200 }: LineChartProps) {
  const titleId = useId();
  const all = series.flatMap((s) => s.points);
  const xs = extent(all.map((p) => p.x));
  const ys = extent(all.map((p) => p.y), 0.05);
  const x = scale(xs, MARGIN.left, width - MARGIN.right);
  const y = scale(ys, height - MARGIN.bottom, MARGIN.top);
  const count = all.length;
  return (
    <figure className="chart">
      <figcaption id={titleId} className="chart__title">
        {title}
      </figcaption>
      <svg
        role="img"
        aria-labelledby={titleId}
        data-points={count}
        viewBox={`0 0 ${width} ${height}`}
        className="chart__svg"
      >
        {ticks(ys).map((t) => (
          <g key={`y${t}`}>
            <line x1={MARGIN.left} x2={width - MARGIN.right} y1={y(t)} y2={y(t)} className="chart__grid" />
            <text x={MARGIN.left - 6} y={y(t) + 4} textAnchor="end" className="chart__tick">
              {tickLabel(t)}
            </text>
          </g>
        ))}
        {ticks(xs, 4, true).map((t) => (
          <text key={`x${t}`} x={x(t)} y={height - MARGIN.bottom + 14} textAnchor="middle" className="chart__tick">
            {t}
          </text>
        ))}
        <text x={(MARGIN.left + width - MARGIN.right) / 2} y={height - 2} textAnchor="middle" className="chart__tick">
          {xLabel}
        </text>
        {series.map((s) =>
          s.points.length === 1 ? (
            <circle key={s.name} cx={x(s.points[0]!.x)} cy={y(s.points[0]!.y)} r={3} fill={s.color} />
          ) : (
            <path key={s.name} d={linePath(thin(s.points), x, y)} fill="none" stroke={s.color} strokeWidth={2} />
          ),
        )}
      </svg>
      {count === 0 && <p className="chart__empty muted">Waiting for the first values…</p>}
      <ul className="chart__legend">
        {series.map((s) => (
          <li key={s.name}>
            <span className="chart__swatch" style={{ background: s.color }} aria-hidden="true" /> {s.name}
            {s.points.length > 0 && `: ${Number(s.points[s.points.length - 1]!.y.toPrecision(4))}`}
          </li>
        ))}
      </ul>
    </figure>
  );
});
