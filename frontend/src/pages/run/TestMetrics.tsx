import type { TrainingRun } from "../../api/runs";
import { headlineMetric, metricRows } from "../models/cardText";
import { MetricsTable } from "../models/MetricsTable";
import "../models/models.css";
import { ClassScores } from "./ClassScores";
import { classScores } from "./classScores";

/**
 * A finished run's figures as numbers, beside its curves: the task's headline metric on the test
 * split (the best checkpoint), and every metric on validation (best epoch) and test; for a
 * segmentation run, Dice and IoU of each class on the test split as well.
 */
export function TestMetrics({ run }: { run: TrainingRun }) {
  const test = run.test_metrics ?? {};
  if (Object.keys(test).length === 0) return null;
  const task = typeof run.config.task === "string" ? run.config.task : "classification";
  if (task === "regression") return null; // RegressionResults shows R², MAE and RMSE in the target's units
  const metrics = { best: run.best_metrics ?? {}, test };
  const headline = headlineMetric(task, metrics);
  const rows = metricRows(metrics);
  const perClass = task === "segmentation" ? classScores(test, run.plan?.classes ?? []) : [];
  return (
    <figure className="chart test-metrics" aria-labelledby="test-metrics-title">
      <figcaption className="chart__title" id="test-metrics-title">
        Test metrics (best checkpoint)
      </figcaption>
      {headline && (
        <p className="model-card__headline" data-testid="run-headline-metric">
          <span className="model-card__figure">{headline.value}</span>
          <span className="model-card__figure-label">{headline.label}</span>
        </p>
      )}
      <MetricsTable rows={rows} label="Test metrics" validationHeading="Validation (best epoch)" />
      <ClassScores scores={perClass} />
    </figure>
  );
}
