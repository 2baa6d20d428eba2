import { useEffect, useMemo } from "react";

import { type Dataset, type DatasetVersion, FINISHED_STATUSES, getDatasetVersion, hasWarnings, isUsable, statusText } from "../../api/datasets";
import { BarChart } from "../../components/charts/BarChart";
import { ErrorAlert } from "../../components/ErrorAlert";
import { useResource } from "../../hooks/useResource";
import { useIngest } from "../../stores/ingest";
import { BuildModelButton } from "./BuildModelButton";
import { CtDatasetReport } from "./CtDatasetReport";
import { versionReport } from "./ctReport";
import { MaskClassShares } from "./MaskClassShares";
import { DeidentificationStatus, SplitWarnings } from "./ReportSections";
import { SampleGrid } from "./SampleGrid";

const POLL_MS = 4000;

/** One version: live ingest progress, then its summary, warnings and samples; an editor may build a model for it. */
export function DatasetVersionPanel({ dataset, versionId, editable = false }: { dataset: Dataset; versionId: number; editable?: boolean }) {
  const version = useResource(`v${versionId}`, (signal) => getDatasetVersion(versionId, signal));
  const live = useIngest((state) => state.versions[versionId]);
  const reload = version.reload;
  const finished = version.data ? FINISHED_STATUSES.has(version.data.status) : false;

  // The socket says when it ends; a slow poll covers an event missed while reconnecting.
  useEffect(() => {
    if (live?.status) reload();
  }, [live?.status, reload]);
  useEffect(() => {
    if (finished || !version.data) return;
    const timer = setInterval(reload, POLL_MS);
    return () => clearInterval(timer);
  }, [finished, version.data, reload]);

  if (!version.data) return <ErrorAlert message={version.error?.message} />;
  const data = version.data;
  return (
    <div className="dataset-version">
      <h2>
        {dataset.name} <span className="muted">v{data.number}</span>
      </h2>
      <p>
        Status: <strong className={`status status--${data.status}${hasWarnings(data) ? " status--warnings" : ""}`}>{statusText(data.status, hasWarnings(data))}</strong>
        {data.source_name && <span className="muted"> · from {data.source_name}</span>}
      </p>
      {!finished && <IngestProgress progress={live ?? data.progress ?? {}} />}
      {data.status === "failed" && data.error && (
        <ErrorAlert message={`The ingest failed${data.error.file ? ` at ${data.error.file}` : ""}: ${data.error.reason}`} />
      )}
      {isUsable(data.status) && editable && <BuildModelButton projectId={dataset.project} datasetName={dataset.name} versionId={data.id} />}
      {isUsable(data.status) && <Summary version={data} />}
    </div>
  );
}

function IngestProgress({ progress }: { progress: { phase?: string; done?: number; total?: number } }) {
  const total = progress.total ?? 0;
  const done = progress.done ?? 0;
  return (
    <div className="progress-row">
      <progress max={total || 1} value={total ? done : undefined} aria-label="Ingest progress" />
      <span>
        {progress.phase || "waiting for a worker"}
        {total > 0 && ` ${done} / ${total}`}
      </span>
    </div>
  );
}

function Summary({ version }: { version: DatasetVersion }) {
  const stats = version.stats ?? {};
  const bars = useMemo(
    () => Object.entries(stats.class_totals ?? {}).map(([label, value]) => ({ label, value })),
    [stats.class_totals],
  );
  const splits = stats.split_counts ?? {};
  const report = versionReport(version);
  const groups = (stats.split_groups ?? {}) as Record<string, number>;
  const unit = stats.grouped_by === "patient" ? "patients" : "groups";
  return (
    <>
      <SplitWarnings warnings={report.split_warnings} />
      <dl className="facts">
        <dt>Samples</dt>
        <dd>{version.sample_count}</dd>
        <dt>Task</dt>
        <dd>{version.task || "—"}</dd>
        <dt>Sample shape</dt>
        <dd>{stats.sample_shape?.join(" × ") ?? "—"}</dd>
        <dt>Splits</dt>
        <dd>{inSplitOrder(splits) || "—"}</dd>
        {Object.keys(groups).length > 0 && stats.grouped_by === "patient" && (
          <>
            <dt>Split by {unit}</dt>
            <dd>{inSplitOrder(groups)}</dd>
          </>
        )}
        <dt>Cache size</dt>
        <dd>{stats.cache_bytes !== undefined ? `${(stats.cache_bytes / 1024 / 1024).toFixed(2)} MiB` : "—"}</dd>
      </dl>
      {report.deidentification && <DeidentificationStatus status={report.deidentification} />}
      {bars.length > 0 && <BarChart title="Class counts" bars={bars} />}
      {version.task === "segmentation" && <MaskClassShares stats={stats} classes={version.classes} holders={version.recipe?.input === "ct" ? "series" : "samples"} />}
      {version.recipe?.input === "ct" && <CtDatasetReport version={version} />}
      {(version.skipped?.length ?? 0) > 0 && (
        <section aria-labelledby="warnings-heading">
          <h3 id="warnings-heading">Warnings: {version.skipped_total} files left out</h3>
          <table className="table">
            <thead>
              <tr>
                <th scope="col">File</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {version.skipped!.slice(0, 200).map((s, i) => (
                <tr key={`${s.file}${i}`}>
                  <td>{s.file}</td>
                  <td>
                    {s.reason} <code>{s.code}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      <SampleGrid version={version} />
    </>
  );
}

/** "train 3 · val 0 · test 0": the stored JSON object does not keep this order. */
function inSplitOrder(counts: Record<string, number>): string {
  return ["train", "val", "test"].filter((name) => name in counts).map((name) => `${name} ${counts[name]}`).join(" · ");
}
