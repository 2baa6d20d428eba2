import { Link, useParams } from "react-router-dom";

import { type ModelVariant, getModel } from "../../api/deploy";
import { ErrorAlert } from "../../components/ErrorAlert";
import { ProjectCrumbs } from "../../components/ProjectCrumbs";
import { ProjectNav } from "../../components/ProjectNav";
import { usePolling } from "../../hooks/usePolling";
import { useResource } from "../../hooks/useResource";
import { PublishButton } from "../market/PublishButton";
import { CompressPanel, ReportTable } from "./CompressPanel";
import { DeployPanel } from "./DeployPanel";
import { ExportPanel } from "./ExportPanel";
import { ModelCardView } from "./ModelCardView";
import { PrunedGraphLink } from "./PrunedGraphLink";

/** One model: its card, compression, exports, deployment and Try it. */
export function ModelPage() {
  const { projectId = "", modelId = "" } = useParams();
  const model = useResource(`model${modelId}`, (signal) => getModel(modelId, signal));
  const pending = model.data ? model.data.status === "queued" || model.data.status === "running" : false;
  usePolling(pending, model.reload);
  return (
    <div className="page">
      <ProjectCrumbs projectId={projectId} trail={[{ label: "Models & deployments", to: `/projects/${projectId}/models` }, { label: model.data?.name ?? `Model ${modelId}` }]} />
      <h1>{model.data?.name ?? "Model"}</h1>
      <ProjectNav projectId={projectId} />
      <ErrorAlert message={model.error?.message} />
      {model.data && <ModelDetail model={model.data} projectId={projectId} />}
    </div>
  );
}

function ModelDetail({ model, projectId }: { model: ModelVariant; projectId: string }) {
  const card = model.card;
  return (
    <>
      <p>
        {model.kind} model · status <strong className={`status status--${model.status}`}>{model.status}</strong>
        {model.parent && (
          <>
            {" "}
            · made from <Link to={`/projects/${projectId}/models/${model.parent}`}>model {model.parent}</Link>
          </>
        )}
      </p>
      {model.kind === "trained" && model.status === "succeeded" && model.run !== null && (
        <p>
          <PublishButton source={{ run: model.run }} kind="model" defaultTitle={model.name} label="Publish to the market" />
        </p>
      )}
      {model.status === "failed" && <ErrorAlert message={`This model could not be made: ${describe(model.error)}`} />}
      {card && (
        <section className="card" aria-labelledby="card-heading">
          <h2 id="card-heading">Model card</h2>
          <ModelCardView card={card} />
        </section>
      )}
      {model.report?.before && <ReportTable report={model.report} />}
      {model.kind === "pruned" && model.status === "succeeded" && <PrunedGraphLink model={model} projectId={projectId} />}
      {model.status === "succeeded" && (
        <>
          <DeployPanel model={model} />
          <ExportPanel model={model} />
          <CompressPanel model={model} projectId={projectId} />
        </>
      )}
    </>
  );
}

export function describe(error: unknown): string {
  if (typeof error === "string") return error;
  if (error && typeof error === "object") {
    const e = error as { message?: string; reason?: string; code?: string };
    return e.message ?? e.reason ?? e.code ?? JSON.stringify(error);
  }
  return "unknown error";
}
