import { Link, useParams } from "react-router-dom";

import { listRuns } from "../../api/runs";
import { getProject } from "../../api/projects";
import { ErrorAlert } from "../../components/ErrorAlert";
import { ProjectNav } from "../../components/ProjectNav";
import { useResource } from "../../hooks/useResource";
import { formatDate } from "../../lib/format";
import { TrainForm } from "./TrainForm";

/** Start a training run, and see the project's runs. */
export function TrainPage() {
  const { projectId = "" } = useParams();
  const project = useResource(`p${projectId}`, (signal) => getProject(projectId, signal));
  const runs = useResource(`r${projectId}`, (signal) => listRuns(projectId, signal));
  return (
    <div className="page">
      <nav className="breadcrumbs" aria-label="Breadcrumb">
        <Link to="/projects">Projects</Link> / <Link to={`/projects/${projectId}`}>{project.data?.name ?? "Project"}</Link>
      </nav>
      <h1>Train</h1>
      <ProjectNav projectId={projectId} />
      <ErrorAlert message={project.error?.message} />
      <div className="page__columns">
        <TrainForm projectId={projectId} />
        <section aria-labelledby="runs-heading">
          <h2 id="runs-heading">Runs</h2>
          <ErrorAlert message={runs.error?.message} />
          {runs.data?.results.length === 0 && <p className="empty-state">No runs yet.</p>}
          <ul className="card-list" aria-label="Runs">
            {runs.data?.results.map((run) => (
              <li key={run.id} className="card card--link">
                <Link className="card__title" to={`/projects/${projectId}/runs/${run.id}`}>
                  Run {run.id}
                </Link>
                <p className="card__meta">
                  <span className={`status status--${run.status}`}>{run.status}</span> · {formatDate(run.created_at)}
                </p>
              </li>
            ))}
          </ul>
        </section>
      </div>
    </div>
  );
}
