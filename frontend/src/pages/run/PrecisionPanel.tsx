import { useMemo } from "react";

import { LineChart, type Series } from "../../components/charts/LineChart";
import { log10Points, precisionReport, worstLayers } from "./precisionReport";

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];
const SHOWN = 8; // layers per chart: the worst ones, so the legend stays readable
const SIGNAL_FACTOR = 10; // the signal error's bar, in thresholds (pipelines/training/precision.py)

const REASONS: Record<string, string> = {
  overflow: "overflow (Inf/NaN in low precision)",
  range: "range (no headroom below the low dtype's largest value)",
  underflow: "underflow (values flushed to zero)",
  signal: "signal (the sample-to-sample variation is lost)",
  error: "error (relative error over the threshold)",
  calm: "calm (back to low precision)",
};

function errorSeries(series: Map<string, { x: number; y: number }[]>, bar: number | null, barName: string): Series[] {
  const layers = worstLayers(series, SHOWN);
  const out: Series[] = layers.map((layer, i) => ({ name: layer, points: log10Points(series.get(layer) ?? []), color: COLORS[i % COLORS.length]! }));
  const steps = layers.flatMap((layer) => (series.get(layer) ?? []).map((p) => p.x));
  if (bar !== null && steps.length > 0) {
    const y = Math.log10(bar);
    out.push({ name: barName, points: [{ x: Math.min(...steps), y }, { x: Math.max(...steps), y }], color: "#6b7280" });
  }
  return out;
}

/**
 * What dynamic precision did in a run: the share of FLOPs it kept in low precision, each layer's
 * error at every probe (log10, with the bars a layer must stay under) and every decision with its
 * reason. Renders nothing for a run without a precision report or without probes and decisions.
 */
export function PrecisionPanel({ precision }: { precision: unknown }) {
  const report = useMemo(() => precisionReport(precision), [precision]);
  const relative = useMemo(
    () => (report ? errorSeries(report.relative, report.threshold, `threshold ${report.threshold}`) : []),
    [report],
  );
  const signal = useMemo(
    () => (report ? errorSeries(report.signal, report.threshold === null ? null : SIGNAL_FACTOR * report.threshold, `${SIGNAL_FACTOR} × threshold`) : []),
    [report],
  );
  if (!report || (report.probes === 0 && report.decisions.length === 0)) return null;
  const inFp32 = Object.entries(report.layers).filter(([, dtype]) => dtype === "fp32").map(([layer]) => layer);
  return (
    <section className="card precision-panel" aria-labelledby="precision-heading">
      <h2 id="precision-heading">Dynamic precision</h2>
      <dl className="facts" aria-label="Precision summary">
        <dt>Low precision</dt>
        <dd>{report.lowDtype ?? "none"}</dd>
        <dt>FLOPs in low precision</dt>
        <dd data-testid="low-flops-share">{report.lowFlopsShare === null ? "–" : `${Math.round(report.lowFlopsShare * 100)}%`}</dd>
        <dt>Probes</dt>
        <dd>{report.probes}</dd>
        <dt>Layers in fp32 now</dt>
        <dd data-testid="fp32-layers">{inFp32.length > 0 ? inFp32.join(", ") : "none"}</dd>
      </dl>
      <div className="charts">
        <LineChart title="Relative error per probe (log₁₀)" series={relative} xLabel="step" />
        <LineChart title="Signal error per probe (log₁₀)" series={signal} xLabel="step" />
      </div>
      <table className="table" aria-label="Precision decisions">
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">Layer</th>
            <th scope="col">To</th>
            <th scope="col">Reason</th>
            <th scope="col">Detail</th>
          </tr>
        </thead>
        <tbody>
          {report.decisions.map((d, i) => (
            <tr key={`${d.step}-${d.layer}-${i}`} data-reason={d.reason}>
              <td>{d.step}</td>
              <td>{d.layer}</td>
              <td>{d.to}</td>
              <td>{REASONS[d.reason] ?? d.reason}</td>
              <td>{d.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {report.decisions.length === 0 && <p className="muted">No layer has needed fp32 yet: every probe was under the bars.</p>}
    </section>
  );
}
