import { useMemo } from "react";

import { type TrainingRunListItem, getRunEvents } from "../../api/runs";
import { LineChart, type Series } from "../../components/charts/LineChart";
import { ErrorAlert } from "../../components/ErrorAlert";
import { useResource } from "../../hooks/useResource";
import { type EpochSeries, epochSeries, fromStored } from "../../lib/runEvents";

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];

interface ComparedRun {
  run: TrainingRunListItem;
  series: EpochSeries;
  color: string;
}

function last(points: EpochSeries["trainLoss"]): string {
  const point = points[points.length - 1];
  return point ? String(Number(point.y.toPrecision(4))) : "—";
}

/**
 * Two or more runs side by side: their per-epoch loss and validation-metric curves on shared axes,
 * and a table of each run's final values, all from each run's stored event history.
 */
export function RunComparison({ runs }: { runs: readonly TrainingRunListItem[] }) {
  const ids = runs.map((run) => run.id);
  const history = useResource(`compare${ids.join(",")}`, (signal) => Promise.all(ids.map((id) => getRunEvents(id, 0, signal))));
  const compared = useMemo<ComparedRun[]>(
    () => runs.map((run, i) => ({ run, series: epochSeries((history.data?.[i] ?? []).map(fromStored)), color: COLORS[i % COLORS.length]! })),
    [runs, history.data],
  );
  // The metric the runs share; each run names its own (accuracy for classification).
  const metricName = compared.find((c) => c.series.metric.length > 0)?.series.metricName ?? "accuracy";
  const loss = useMemo<Series[]>(
    () =>
      compared.flatMap(({ run, series, color }) => [
        { name: `run ${run.id} train`, points: series.trainLoss, color },
        { name: `run ${run.id} validation`, points: series.valLoss, color: `${color}99` },
      ]),
    [compared],
  );
  const metric = useMemo<Series[]>(
    () => compared.map(({ run, series, color }) => ({ name: `run ${run.id}`, points: series.metricName === metricName ? series.metric : [], color })),
    [compared, metricName],
  );
  return (
    <section className="card" aria-labelledby="compare-heading">
      <h2 id="compare-heading">Runs {ids.join(", ")} compared</h2>
      <ErrorAlert message={history.error?.message} />
      {history.loading && !history.data && <p role="status">Loading the runs' histories…</p>}
      <div className="charts">
        <LineChart title="Loss per epoch" series={loss} xLabel="epoch" />
        <LineChart title={`Validation ${metricName} per epoch`} series={metric} xLabel="epoch" />
      </div>
      <table className="table" aria-label="Final metrics">
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Status</th>
            <th scope="col">Epochs</th>
            <th scope="col">Train loss</th>
            <th scope="col">Validation loss</th>
            <th scope="col">Validation {metricName}</th>
          </tr>
        </thead>
        <tbody>
          {compared.map(({ run, series, color }) => (
            <tr key={run.id}>
              <th scope="row">
                <span className="chart__swatch" style={{ background: color }} aria-hidden="true" /> Run {run.id}
              </th>
              <td className={`status status--${run.status}`}>{run.status}</td>
              <td>{series.trainLoss.length || series.valLoss.length || "—"}</td>
              <td>{last(series.trainLoss)}</td>
              <td>{last(series.valLoss)}</td>
              <td>{series.metricName === metricName ? last(series.metric) : "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
