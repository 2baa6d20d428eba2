import { Link } from "react-router-dom";

import type { ModelVariant } from "../../api/deploy";
import { getRun } from "../../api/runs";
import { useResource } from "../../hooks/useResource";

/**
 * "Open the pruned graph on the canvas". The model names only its new graph version
 * (`graph_version`); the prune saves it in the graph its run trained, which the run names.
 */
export function PrunedGraphLink({ model, projectId }: { model: ModelVariant; projectId: string }) {
  const versionId = model.graph_version;
  const run = useResource(`run${model.run ?? "none"}`, (signal) => (model.run === null ? Promise.resolve(null) : getRun(model.run, signal)));
  const graphId = run.data?.graph;
  const finetuneRun = model.report?.finetune_run;
  const finetuneError = model.report?.finetune_error as { message?: string } | undefined;
  if (versionId === null || graphId === undefined) return null;
  return (
    <p className="row">
      <Link className="button button--secondary button--small" to={`/projects/${projectId}/graphs/${graphId}?version=${versionId}`}>
        Open the pruned graph on the canvas
      </Link>
      {typeof finetuneRun === "number" && (
        <Link className="button button--secondary button--small" to={`/projects/${projectId}/runs/${finetuneRun}`}>
          Follow the fine-tuning run
        </Link>
      )}
      {finetuneError?.message && <span role="alert">Fine-tuning could not start: {finetuneError.message}</span>}
    </p>
  );
}
