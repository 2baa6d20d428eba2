import { type ReactNode, useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";

import { modelFromRun } from "../../api/deploy";
import { TERMINAL_RUN_STATUSES, type TrainingRun, cancelRun, getRun, resumeRun } from "../../api/runs";
import { ConfusionMatrix } from "../../components/charts/ConfusionMatrix";
import { LineChart } from "../../components/charts/LineChart";
import { RocChart } from "../../components/charts/RocChart";
import { ErrorAlert } from "../../components/ErrorAlert";
import { ProjectCrumbs } from "../../components/ProjectCrumbs";
import { ProjectNav } from "../../components/ProjectNav";
import { useResource } from "../../hooks/useResource";
import { epochSeries, formatDuration, latestConfusion, latestProgress, logLines, runFraction, stepLoss } from "../../lib/runEvents";
import { useRunLive } from "../../stores/runLive";
import { unreportedEpochLoss } from "./epochFallback";
import { PrecisionPanel } from "./PrecisionPanel";
import { RegressionResults } from "./RegressionResults";
import { latestValidationRoc, rocSeries } from "./rocCurves";
import { TestMetrics } from "./TestMetrics";
import { useRunFeed } from "./useRunFeed";

/** A training run, live: progress, curves, confusion matrix, logs; cancel, resume, and on to the model. */
export function RunPage() {
  const { projectId = "", runId = "" } = useParams();
  const id = Number(runId);
  const run = useResource(`run${id}`, (signal) => getRun(id, signal));
  const socket = useRunFeed(id, run.reload);
  return (
    <div className="page">
      <ProjectCrumbs projectId={projectId} trail={[{ label: "Train", to: `/projects/${projectId}/train` }, { label: `Run ${id}` }]} />
      <div className="page__header">
        <h1>Run {id}</h1>
        <span className={`live-dot live-dot--${socket}`} role="status" aria-label={`Live updates: ${socket}`} title={`Live updates: ${socket}`} />
      </div>
      <ProjectNav projectId={projectId} />
      <ErrorAlert message={run.error?.message} />
      {run.data && <RunDashboard run={run.data} projectId={projectId} onChanged={run.reload} />}
    </div>
  );
}

function RunDashboard({ run, projectId, onChanged }: { run: TrainingRun; projectId: string; onChanged: () => void }) {
  const events = useRunLive((s) => s.events);
  const live = useMemo(() => latestProgress(events), [events]);
  const status = run.status;
  const epochs = Number(run.config.epochs ?? 10);
  const fraction = runFraction(events, epochs, status);
  return (
    <>
      <RunControls run={run} projectId={projectId} onChanged={onChanged} />
      <section className="card run-progress" aria-label="Progress">
        <p>
          Status: <strong className={`status status--${status}`} data-testid="run-status">{status}</strong>
          {live.epoch !== null && ` · epoch ${Math.min(live.epoch + 1, epochs)} of ${epochs}`}
          {live.step !== null && ` · step ${live.step}`}
          {live.samplesPerSecond !== null && ` · ${Math.round(live.samplesPerSecond)} samples/s`}
          {!TERMINAL_RUN_STATUSES.has(status) && ` · ETA ${formatDuration(live.etaSeconds)}`}
        </p>
        <progress className="run-progress__bar" max={100} value={Math.round(fraction * 100)} aria-label="Training progress" />
        {run.error?.message && <ErrorAlert message={`The run failed: ${run.error.message}`} />}
      </section>
      <Charts classes={run.plan?.classes ?? NO_CLASSES} testRoc={run.test_metrics?.roc_curve} testMetrics={<TestMetrics run={run} />} />
      <RegressionResults testMetrics={run.test_metrics} plan={run.plan} />
      <PrecisionPanel precision={run.precision} />
      <RunLog />
    </>
  );
}

const NO_CLASSES: readonly string[] = [];

function Charts({ classes, testRoc, testMetrics }: { classes: readonly string[]; testRoc: unknown; testMetrics?: ReactNode }) {
  const events = useRunLive((s) => s.events);
  const steps = useMemo(() => stepLoss(events), [events]);
  const epochs = useMemo(() => epochSeries(events), [events]);
  const matrix = useMemo(() => latestConfusion(events), [events]);
  const valRoc = useMemo(() => rocSeries(latestValidationRoc(events), classes), [events, classes]);
  const testCurves = useMemo(() => rocSeries(testRoc, classes), [testRoc, classes]);
  const epochMeans = useMemo(() => unreportedEpochLoss(events), [events]);
  const lossSeries = useMemo(
    () => [
      { name: "train loss (step)", points: steps, color: "#2563eb" },
      // Epochs no step loss was reported in (fewer steps than stats_every): their mean, at their end.
      ...(epochMeans.length > 0 ? [{ name: "train loss (epoch mean)", points: epochMeans, color: "#93c5fd" }] : []),
    ],
    [steps, epochMeans],
  );
  const epochLoss = useMemo(
    () => [
      { name: "train loss", points: epochs.trainLoss, color: "#2563eb" },
      { name: "validation loss", points: epochs.valLoss, color: "#dc2626" },
    ],
    [epochs],
  );
  const metric = useMemo(() => [{ name: `validation ${epochs.metricName}`, points: epochs.metric, color: "#16a34a" }], [epochs]);
  return (
    <div className="charts">
      <LineChart title="Loss per step" series={lossSeries} xLabel="step" />
      <LineChart title="Loss per epoch" series={epochLoss} xLabel="epoch" />
      <LineChart title={`Validation ${epochs.metricName}`} series={metric} xLabel="epoch" />
      {matrix && (
        <figure className="chart">
          <figcaption className="chart__title">Confusion matrix (validation, latest epoch)</figcaption>
          <ConfusionMatrix matrix={matrix} classes={classes} />
        </figure>
      )}
      {valRoc.length > 0 && <RocChart title="ROC curve (validation, latest epoch)" curves={valRoc} />}
      {testMetrics}
      {testCurves.length > 0 && <RocChart title="ROC curve (test set, best checkpoint)" curves={testCurves} />}
    </div>
  );
}

function RunLog() {
  const events = useRunLive((s) => s.events);
  const lines = useMemo(() => logLines(events), [events]);
  return (
    <section aria-labelledby="log-heading">
      <h2 id="log-heading">Log</h2>
      <ol className="run-log" aria-label="Run log">
        {lines.map((line) => (
          <li key={line.id} className={`run-log__${line.level}`}>
            {line.text}
          </li>
        ))}
      </ol>
    </section>
  );
}

function RunControls({ run, projectId, onChanged }: { run: TrainingRun; projectId: string; onChanged: () => void }) {
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const act = async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : "That did not work.");
    } finally {
      setBusy(false);
    }
  };
  const finished = TERMINAL_RUN_STATUSES.has(run.status);
  return (
    <div className="toolbar">
      {!finished && (
        <button type="button" className="button button--secondary" disabled={busy || run.cancel_requested} onClick={() => void act(async () => { await cancelRun(run.id); onChanged(); })}>
          {run.cancel_requested ? "Cancelling…" : "Cancel run"}
        </button>
      )}
      {(run.status === "failed" || run.status === "cancelled") && (
        <button type="button" className="button" disabled={busy} onClick={() => void act(async () => { const next = await resumeRun(run.id); void navigate(`/projects/${projectId}/runs/${next.id}`); })}>
          Resume
        </button>
      )}
      {run.graph !== undefined && (
        <Link className="button button--secondary" to={`/projects/${projectId}/graphs/${run.graph}?run=${run.id}`}>
          Show on the canvas
        </Link>
      )}
      {run.status === "succeeded" && run.has_artifact && (
        <button type="button" className="button" disabled={busy} onClick={() => void act(async () => { const model = await modelFromRun(run.id); void navigate(`/projects/${projectId}/models/${model.id}`); })}>
          Open the trained model
        </button>
      )}
      <ErrorAlert message={error} />
    </div>
  );
}
