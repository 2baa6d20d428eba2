import { memo, useId, useMemo } from "react";

import { extent, scale, ticks } from "../../lib/chart";
import {
  formatFigure,
  formatR2,
  type RegressionScatter,
  type ResidualHistogram,
  regressionResults,
  type TargetScaling,
  targetScaling,
} from "./regressionResults";
import "./regression.css";

const SIZE = 300;
const MARGIN = { top: 10, right: 12, bottom: 34, left: 52 };

/** Axis labels short enough for a small chart: 150k, 1.2M, 0.35. */
function compact(value: number): string {
  const size = Math.abs(value);
  if (size >= 1e6) return `${Number((value / 1e6).toPrecision(3))}M`;
  if (size >= 1e3) return `${Number((value / 1e3).toPrecision(3))}k`;
  return String(Number(value.toPrecision(3)));
}

function scalingText(scaling: TargetScaling | null): string {
  if (!scaling) return "The network was trained on the raw target.";
  const what = scaling.kind === "log" ? "the log of the target, standardised" : "the standardised target";
  const unit = scaling.kind === "log" ? " (of ln y)" : "";
  return `The network was trained on ${what} (mean ${formatFigure(scaling.mean)}, std ${formatFigure(scaling.std)}${unit}, from the training split); every figure here is back in the target's own units.`;
}

/**
 * A regression run's test results: R², MAE, RMSE and loss as numbers, a predicted-vs-actual
 * scatter and a residual histogram, all on the test split with the best checkpoint, in the
 * target's own units. Renders nothing for a run without regression test metrics.
 */
export function RegressionResults({ testMetrics, plan }: { testMetrics: unknown; plan: unknown }) {
  const results = useMemo(() => regressionResults(testMetrics), [testMetrics]);
  const scaling = useMemo(() => targetScaling(plan), [plan]);
  if (!results) return null;
  return (
    <section className="card regression-results" aria-labelledby="regression-heading">
      <h2 id="regression-heading">Test results (best checkpoint)</h2>
      <dl className="facts" aria-label="Regression metrics">
        <dt>R²</dt>
        <dd data-testid="metric-r2">{formatR2(results.r2)}</dd>
        <dt>MAE</dt>
        <dd data-testid="metric-mae">{formatFigure(results.mae)}</dd>
        <dt>RMSE</dt>
        <dd data-testid="metric-rmse">{formatFigure(results.rmse)}</dd>
        <dt>Loss</dt>
        <dd data-testid="metric-loss">{formatFigure(results.loss)}</dd>
      </dl>
      <p className="muted">{scalingText(scaling)}</p>
      <div className="charts">
        {results.scatter && <PredictedVsActual scatter={results.scatter} />}
        {results.histogram && <ResidualChart histogram={results.histogram} />}
      </div>
    </section>
  );
}

/** Each sampled test row at (actual, predicted), both axes on one scale, with the y = x line of a perfect model. */
export const PredictedVsActual = memo(function PredictedVsActual({ scatter }: { scatter: RegressionScatter }) {
  const titleId = useId();
  const domain = extent([...scatter.actual, ...scatter.predicted], 0.05);
  const x = scale(domain, MARGIN.left, SIZE - MARGIN.right);
  const y = scale(domain, SIZE - MARGIN.bottom, MARGIN.top);
  const title = `Predicted vs actual (test split${scatter.total > scatter.actual.length ? `, ${scatter.actual.length} of ${scatter.total} rows` : ""})`;
  return (
    <figure className="chart">
      <figcaption id={titleId} className="chart__title">
        {title}
      </figcaption>
      <svg role="img" aria-labelledby={titleId} data-points={scatter.actual.length} viewBox={`0 0 ${SIZE} ${SIZE}`} className="chart__svg chart__svg--square">
        {ticks(domain).map((t) => (
          <g key={t}>
            <line x1={MARGIN.left} x2={SIZE - MARGIN.right} y1={y(t)} y2={y(t)} className="chart__grid" />
            <text x={MARGIN.left - 6} y={y(t) + 4} textAnchor="end" className="chart__tick">
              {compact(t)}
            </text>
            <text x={x(t)} y={SIZE - MARGIN.bottom + 14} textAnchor="middle" className="chart__tick">
              {compact(t)}
            </text>
          </g>
        ))}
        <text x={(MARGIN.left + SIZE - MARGIN.right) / 2} y={SIZE - 2} textAnchor="middle" className="chart__tick">
          actual
        </text>
        <text transform={`translate(10 ${(MARGIN.top + SIZE - MARGIN.bottom) / 2}) rotate(-90)`} textAnchor="middle" className="chart__tick">
          predicted
        </text>
        <line data-testid="identity-line" x1={x(domain.min)} y1={y(domain.min)} x2={x(domain.max)} y2={y(domain.max)} className="chart__identity" strokeDasharray="4 4" />
        {scatter.actual.map((a, i) => (
          <circle key={i} cx={x(a).toFixed(1)} cy={y(scatter.predicted[i]!).toFixed(1)} r={2.5} className="chart__dot" />
        ))}
      </svg>
    </figure>
  );
});

/** How far off the test predictions are (predicted − actual), as a histogram in the target's units. */
export const ResidualChart = memo(function ResidualChart({ histogram }: { histogram: ResidualHistogram }) {
  const titleId = useId();
  const width = 420;
  const height = 220;
  const { counts, edges } = histogram;
  const xDomain = { min: edges[0]!, max: edges[edges.length - 1]! };
  const yDomain = { min: 0, max: Math.max(1, ...counts) };
  const x = scale(xDomain.max > xDomain.min ? xDomain : extent(edges), MARGIN.left, width - MARGIN.right);
  const y = scale(yDomain, height - MARGIN.bottom, MARGIN.top);
  return (
    <figure className="chart">
      <figcaption id={titleId} className="chart__title">
        Residuals, predicted − actual (test split)
      </figcaption>
      <svg role="img" aria-labelledby={titleId} data-bins={counts.length} viewBox={`0 0 ${width} ${height}`} className="chart__svg">
        {ticks(yDomain, 4, true).map((t) => (
          <g key={`y${t}`}>
            <line x1={MARGIN.left} x2={width - MARGIN.right} y1={y(t)} y2={y(t)} className="chart__grid" />
            <text x={MARGIN.left - 6} y={y(t) + 4} textAnchor="end" className="chart__tick">
              {t}
            </text>
          </g>
        ))}
        {ticks(xDomain).map((t) => (
          <text key={`x${t}`} x={x(t)} y={height - MARGIN.bottom + 14} textAnchor="middle" className="chart__tick">
            {compact(t)}
          </text>
        ))}
        <text x={(MARGIN.left + width - MARGIN.right) / 2} y={height - 2} textAnchor="middle" className="chart__tick">
          predicted − actual (bar height: rows)
        </text>
        {counts.map((count, i) => (
          <rect
            key={i}
            data-count={count}
            x={x(edges[i]!) + 0.5}
            y={y(count)}
            width={Math.max(1, x(edges[i + 1]!) - x(edges[i]!) - 1)}
            height={Math.max(0, y(0) - y(count))}
            className="chart__bar"
          >
            <title>{`${formatFigure(edges[i]!)} to ${formatFigure(edges[i + 1]!)}: ${count} rows`}</title>
          </rect>
        ))}
        {xDomain.min < 0 && xDomain.max > 0 && <line x1={x(0)} x2={x(0)} y1={MARGIN.top} y2={y(0)} stroke="currentColor" strokeDasharray="3 3" />}
      </svg>
    </figure>
  );
});
