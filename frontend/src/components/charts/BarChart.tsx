import { memo, useId } from "react";

export interface Bar {
  label: string;
  value: number;
}

interface BarChartProps {
  title: string;
  bars: readonly Bar[];
  width?: number;
  barHeight?: number;
}

/** Horizontal bars with their values: class counts and the like. */
export const BarChart = memo(function BarChart({ title, bars, width = 360, barHeight = 18 }: BarChartProps) {
  const titleId = useId();
  const max = Math.max(1, ...bars.map((b) => b.value));
  const labelWidth = 90;
  const height = bars.length * (barHeight + 4) + 4;
  return (
    <figure className="chart">
      <figcaption id={titleId} className="chart__title">
        {title}
      </figcaption>
      <svg role="img" aria-labelledby={titleId} viewBox={`0 0 ${width} ${height}`} className="chart__svg">
        {bars.map((bar, i) => {
          const top = 4 + i * (barHeight + 4);
          const length = ((width - labelWidth - 50) * bar.value) / max;
          return (
            <g key={bar.label} data-label={bar.label}>
              <text x={labelWidth - 6} y={top + barHeight - 5} textAnchor="end" className="chart__tick">
                {bar.label.length > 14 ? `${bar.label.slice(0, 13)}…` : bar.label}
              </text>
              <rect x={labelWidth} y={top} width={Math.max(1, length)} height={barHeight} className="chart__bar" />
              <text x={labelWidth + length + 4} y={top + barHeight - 5} className="chart__tick">
                {bar.value}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
});
