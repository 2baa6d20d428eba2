import { Link, useParams } from "react-router-dom";

import { listDeployments, listModels } from "../../api/deploy";
import { ErrorAlert } from "../../components/ErrorAlert";
import { ProjectNav } from "../../components/ProjectNav";
import { useResource } from "../../hooks/useResource";
import { formatDate } from "../../lib/format";
import { deploymentLabel } from "./deploymentStatus";

/** The project's models (trained, pruned, int8) and its deployments. */
export function ModelsPage() {
  const { projectId = "" } = useParams();
  const models = useResource(`m${projectId}`, (signal) => listModels(projectId, signal));
  const deployments = useResource(`dep${projectId}`, (signal) => listDeployments(projectId, signal));
  return (
    <div className="page">
      <nav className="breadcrumbs" aria-label="Breadcrumb">
        <Link to="/projects">Projects</Link> / <Link to={`/projects/${projectId}`}>Project</Link>
      </nav>
      <h1>Models &amp; deployments</h1>
      <ProjectNav projectId={projectId} />
      <ErrorAlert message={models.error?.message ?? deployments.error?.message} />
      <div className="page__columns">
        <section aria-labelledby="models-heading">
          <h2 id="models-heading">Models</h2>
          {models.data?.results.length === 0 && (
            <p className="empty-state">
              No models yet. A succeeded <Link to={`/projects/${projectId}/train`}>training run</Link> becomes one.
            </p>
          )}
          <ul className="card-list" aria-label="Models">
            {models.data?.results.map((model) => (
              <li key={model.id} className="card card--link">
                <Link className="card__title" to={`/projects/${projectId}/models/${model.id}`}>
                  {model.name}
                </Link>
                <p className="card__meta">
                  {model.kind} · <span className={`status status--${model.status}`}>{model.status}</span> · {formatDate(model.created_at)}
                </p>
              </li>
            ))}
          </ul>
        </section>
        <section aria-labelledby="deployments-heading">
          <h2 id="deployments-heading">Deployments</h2>
          <ul className="card-list" aria-label="Deployments">
            {deployments.data?.results.map((d) => (
              <li key={d.id} className="card">
                <Link className="card__title" to={`/projects/${projectId}/models/${d.model}`}>
                  {d.name}
                </Link>
                <p className="card__meta">
                  <span className={`status status--${d.status}`}>{deploymentLabel(d.status)}</span> · <code>{d.url}</code>
                </p>
              </li>
            ))}
          </ul>
        </section>
      </div>
    </div>
  );
}
