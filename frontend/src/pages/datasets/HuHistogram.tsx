import { memo, useId } from "react";

import { WINDOW_PRESETS, type WindowPresetId } from "./ctReport";

export interface HuHistogramData {
  counts: number[];
  edges: number[];
}

const TICKS = [-1000, -500, 0, 500, 1000, 1500];

/**
 * How the dataset's voxels spread over Hounsfield units (air, lung, fat, soft tissue, bone), on a
 * square-root scale so the air around a patient does not flatten the rest; the chosen window's
 * range is shaded.
 */
export const HuHistogram = memo(function HuHistogram({ histogram, window }: { histogram: HuHistogramData; window?: WindowPresetId }) {
  const titleId = useId();
  const width = 480;
  const height = 150;
  const plot = { left: 8, right: width - 8, top: 8, bottom: height - 22 };
  const low = histogram.edges[0] ?? -1100;
  const high = histogram.edges[histogram.edges.length - 1] ?? 1500;
  const x = (hu: number) => plot.left + ((Math.min(Math.max(hu, low), high) - low) / (high - low)) * (plot.right - plot.left);
  const peak = Math.sqrt(Math.max(1, ...histogram.counts));
  const total = histogram.counts.reduce((sum, n) => sum + n, 0);
  const preset = WINDOW_PRESETS.find((p) => p.id === window);
  return (
    <figure className="chart ct-histogram">
      <figcaption id={titleId} className="chart__title">
        HU histogram <span className="muted">({total.toLocaleString()} voxels sampled, square-root scale{preset ? `; ${preset.name} window shaded` : ""})</span>
      </figcaption>
      <svg role="img" aria-labelledby={titleId} viewBox={`0 0 ${width} ${height}`} className="chart__svg">
        {preset && (
          <rect x={x(preset.level - preset.width / 2)} width={x(preset.level + preset.width / 2) - x(preset.level - preset.width / 2)} y={plot.top} height={plot.bottom - plot.top} className="ct-histogram__window" />
        )}
        {histogram.counts.map((count, i) => {
          const left = x(histogram.edges[i]!);
          const barHeight = (Math.sqrt(count) / peak) * (plot.bottom - plot.top);
          return <rect key={i} x={left} width={Math.max(1, x(histogram.edges[i + 1]!) - left - 1)} y={plot.bottom - barHeight} height={barHeight} className="chart__bar" data-count={count} />;
        })}
        <line x1={plot.left} x2={plot.right} y1={plot.bottom} y2={plot.bottom} className="ct-positions__axis" />
        {TICKS.filter((t) => t >= low && t <= high).map((t) => (
          <text key={t} x={x(t)} y={height - 6} textAnchor="middle" className="chart__tick">
            {t}
          </text>
        ))}
      </svg>
    </figure>
  );
});
