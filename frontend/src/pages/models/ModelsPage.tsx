import { Link, useParams } from "react-router-dom";

import { type ModelVariant, listDeployments, listModels } from "../../api/deploy";
import { EmptyState } from "../../components/EmptyState";
import { ErrorAlert } from "../../components/ErrorAlert";
import { ProjectCrumbs } from "../../components/ProjectCrumbs";
import { ProjectNav } from "../../components/ProjectNav";
import { useResource } from "../../hooks/useResource";
import { formatDate } from "../../lib/format";
import { headlineMetric } from "./cardText";
import { deploymentLabel } from "./deploymentStatus";
import "./models.css";

/** The project's models (trained, pruned, int8), each with its headline metric, and its deployments. */
export function ModelsPage() {
  const { projectId = "" } = useParams();
  const models = useResource(`m${projectId}`, (signal) => listModels(projectId, signal));
  const deployments = useResource(`dep${projectId}`, (signal) => listDeployments(projectId, signal));
  const firstReady = models.data?.results.find((model) => model.status === "succeeded");
  return (
    <div className="page">
      <ProjectCrumbs projectId={projectId} trail={[{ label: "Models & deployments" }]} />
      <h1>Models &amp; deployments</h1>
      <ProjectNav projectId={projectId} />
      <ErrorAlert message={models.error?.message ?? deployments.error?.message} />
      <div className="page__columns">
        <section aria-labelledby="models-heading">
          <h2 id="models-heading">Models</h2>
          {models.data?.results.length === 0 && (
            <EmptyState action={<Link className="button" to={`/projects/${projectId}/train`}>Train a model</Link>}>
              No models yet. Every training run that succeeds becomes one here, with its metrics.
            </EmptyState>
          )}
          <ul className="card-list" aria-label="Models">
            {models.data?.results.map((model) => (
              <ModelListItem key={model.id} model={model} projectId={projectId} />
            ))}
          </ul>
        </section>
        <section aria-labelledby="deployments-heading">
          <h2 id="deployments-heading">Deployments</h2>
          {deployments.data?.results.length === 0 && (
            <EmptyState
              action={
                firstReady ? (
                  <Link className="button" to={`/projects/${projectId}/models/${firstReady.id}`}>
                    Deploy {firstReady.name}
                  </Link>
                ) : (
                  <Link to={`/projects/${projectId}/train`}>Train a model first</Link>
                )
              }
            >
              Nothing is deployed. Open a model and deploy it to get an HTTP endpoint and an API key.
            </EmptyState>
          )}
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

function ModelListItem({ model, projectId }: { model: ModelVariant; projectId: string }) {
  const headline = model.card ? headlineMetric(model.card.task, model.card.metrics) : null;
  return (
    <li className="card card--link">
      <Link className="card__title" to={`/projects/${projectId}/models/${model.id}`}>
        {model.name}
      </Link>
      <p className="card__meta">
        {headline && (
          <>
            <span className="model-list__figure">{headline.value}</span> {headline.label} ·{" "}
          </>
        )}
        {model.kind} · <span className={`status status--${model.status}`}>{model.status}</span> · {formatDate(model.created_at)}
      </p>
    </li>
  );
}
