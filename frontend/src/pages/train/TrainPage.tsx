import { useState } from "react";
import { Link, useParams } from "react-router-dom";

import { listRuns } from "../../api/runs";
import { getProject } from "../../api/projects";
import { ErrorAlert } from "../../components/ErrorAlert";
import { EmptyState } from "../../components/EmptyState";
import { ProjectCrumbs } from "../../components/ProjectCrumbs";
import { ProjectNav } from "../../components/ProjectNav";
import { useResource } from "../../hooks/useResource";
import { formatDate } from "../../lib/format";
import { RunComparison } from "./RunComparison";
import { TrainForm } from "./TrainForm";

/** Start a training run, see the project's runs, and compare two or more of them. */
export function TrainPage() {
  const { projectId = "" } = useParams();
  const project = useResource(`p${projectId}`, (signal) => getProject(projectId, signal));
  const runs = useResource(`r${projectId}`, (signal) => listRuns(projectId, signal));
  const [selected, setSelected] = useState<ReadonlySet<number>>(new Set());
  const toggle = (id: number) =>
    setSelected((previous) => {
      const next = new Set(previous);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  const compared = runs.data?.results.filter((run) => selected.has(run.id)) ?? [];
  return (
    <div className="page">
      <ProjectCrumbs projectId={projectId} trail={[{ label: "Train" }]} />
      <h1>Train</h1>
      <ProjectNav projectId={projectId} />
      <ErrorAlert message={project.error?.message} />
      <div className="page__columns">
        <TrainForm projectId={projectId} />
        <section aria-labelledby="runs-heading">
          <h2 id="runs-heading">Runs</h2>
          <ErrorAlert message={runs.error?.message} />
          {runs.data?.results.length === 0 && (
            <EmptyState>No runs yet. Choose a saved graph and a ready dataset in the form, then start training.</EmptyState>
          )}
          <ul className="card-list" aria-label="Runs">
            {runs.data?.results.map((run) => (
              <li key={run.id} className="card card--link">
                <Link className="card__title" to={`/projects/${projectId}/runs/${run.id}`}>
                  Run {run.id}
                </Link>
                <p className="card__meta">
                  <span className={`status status--${run.status}`}>{run.status}</span> · {formatDate(run.created_at)}
                </p>
                <label className="run-pick">
                  <input type="checkbox" checked={selected.has(run.id)} onChange={() => toggle(run.id)} /> Compare run {run.id}
                </label>
              </li>
            ))}
          </ul>
          {runs.data && runs.data.results.length > 1 && compared.length < 2 && <p className="muted">Tick two or more runs to compare them.</p>}
        </section>
      </div>
      {compared.length >= 2 && <RunComparison runs={compared} />}
    </div>
  );
}
