import { useCallback, useState } from "react";
import { useParams, useSearchParams } from "react-router-dom";

import { type Dataset, type DatasetVersion, hasWarnings, listDatasets, statusText } from "../../api/datasets";
import { canEdit, getProject } from "../../api/projects";
import { ErrorAlert } from "../../components/ErrorAlert";
import { ProjectCrumbs } from "../../components/ProjectCrumbs";
import { ProjectNav } from "../../components/ProjectNav";
import { useLiveSocket } from "../../hooks/useLiveSocket";
import { useResource } from "../../hooks/useResource";
import { useIngest } from "../../stores/ingest";
import { DatasetVersionPanel } from "./DatasetVersionPanel";
import { SampleDatasets } from "./SampleDatasets";
import { UploadPanel } from "./UploadPanel";

/** A project's datasets: add one (upload or sample), watch it ingest, read its summary. */
export function DatasetsPage() {
  const { projectId = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  const project = useResource(`p${projectId}`, (signal) => getProject(projectId, signal));
  const datasets = useResource(`d${projectId}`, (signal) => listDatasets(projectId, signal));
  const apply = useIngest((state) => state.apply);
  const reloadList = datasets.reload;
  const [notice, setNotice] = useState<string | null>(null);

  const onEvent = useCallback(
    (event: Record<string, unknown>) => {
      apply(event);
      if (event.type === "dataset.finished") {
        setNotice(null);
        reloadList();
      }
    },
    [apply, reloadList],
  );
  const socket = useLiveSocket(`/ws/projects/${projectId}/`, onEvent, (reconnected) => {
    if (reconnected) reloadList();
  });

  const selectedId = Number(search.get("dataset")) || datasets.data?.results[0]?.id || null;
  const selected = datasets.data?.results.find((d) => d.id === selectedId) ?? null;
  const select = (id: number) => setSearch({ dataset: String(id) }, { replace: true });

  const started = (version: DatasetVersion, name: string) => {
    setNotice(`Ingesting “${name}”…`);
    select(version.dataset);
    reloadList();
  };
  const editable = project.data ? canEdit(project.data.role) : false;

  return (
    <div className="page">
      <ProjectCrumbs projectId={projectId} trail={[{ label: "Datasets" }]} />
      <div className="page__header">
        <h1>Datasets</h1>
        <span className={`live-dot live-dot--${socket}`} role="status" aria-label={`Live updates: ${socket}`} title={`Live updates: ${socket}`} />
      </div>
      <ProjectNav projectId={projectId} />
      <ErrorAlert message={project.error?.message ?? datasets.error?.message} />
      <p className="notice" role="status">
        {notice}
      </p>
      <div className="datasets">
        <aside className="datasets__side">
          <h2>Your datasets</h2>
          {datasets.data && datasets.data.results.length === 0 && (
            <p className="empty-state">No datasets yet. Upload a zip of image folders, a CSV table, text or CT scans, or add a sample dataset below.</p>
          )}
          <ul className="card-list" aria-label="Datasets">
            {datasets.data?.results.map((dataset) => (
              <DatasetItem key={dataset.id} dataset={dataset} active={dataset.id === selectedId} onSelect={select} />
            ))}
          </ul>
          {editable && <SampleDatasets projectId={Number(projectId)} onStarted={started} />}
          {editable && <UploadPanel projectId={Number(projectId)} onStarted={started} />}
        </aside>
        <section className="datasets__main" aria-label="Dataset details">
          {selected?.latest_version ? (
            <DatasetVersionPanel key={selected.latest_version.id} dataset={selected} versionId={selected.latest_version.id} editable={editable} />
          ) : (
            <p className="muted">Pick a dataset, add a sample dataset, or drop a file to upload.</p>
          )}
        </section>
      </div>
    </div>
  );
}

function DatasetItem({ dataset, active, onSelect }: { dataset: Dataset; active: boolean; onSelect: (id: number) => void }) {
  const live = useIngest((state) => (dataset.latest_version ? state.versions[dataset.latest_version.id] : undefined));
  const latest = dataset.latest_version;
  // The socket's dataset.finished is newer than the list until the list reloads.
  const status = live?.status ?? latest?.status ?? "queued";
  const warnings = live?.warnings ?? (latest ? hasWarnings(latest) : false);
  return (
    <li className={`card card--link${active ? " card--active" : ""}`}>
      <button type="button" className="link-button card__title" aria-current={active ? "true" : undefined} onClick={() => onSelect(dataset.id)}>
        {dataset.name}
      </button>
      <p className="card__meta">
        {dataset.kind} · <span className={`status status--${status}${warnings ? " status--warnings" : ""}`}>{statusText(status, warnings)}</span>
        {dataset.latest_version && ` · ${dataset.latest_version.sample_count} samples`}
      </p>
    </li>
  );
}
