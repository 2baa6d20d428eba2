import { memo } from "react";

import type { TensorSpec } from "../../api/deploy";
import type { MarketEntry, MarketVersion } from "../../api/market";
import { formatCount } from "../../editor/model/format";
import { factText } from "../models/ModelCardView";
import { percent } from "./EntryCard";

function Tensors({ specs }: { specs: readonly TensorSpec[] | undefined }) {
  if (!specs || specs.length === 0) return <>—</>;
  return (
    <>
      {specs.map((spec) => (
        <div key={spec.name}>
          <code>
            {spec.name}: {spec.datatype} [{spec.shape.join(", ")}]
          </code>
        </div>
      ))}
    </>
  );
}

/** The model card of one version: what it does, what it takes, how good it is, on what, and whose. */
export const MarketCardView = memo(function MarketCardView({ entry, version }: { entry: MarketEntry; version: MarketVersion }) {
  const contract = entry.input_contract;
  const dataset = factText(version.metrics_dataset);
  return (
    <dl className="facts">
      <dt>Description</dt>
      <dd>{entry.description || "—"}</dd>
      <dt>Task</dt>
      <dd>{entry.task || "—"}</dd>
      <dt>Modality</dt>
      <dd>{entry.modality || "—"}</dd>
      <dt>Classes</dt>
      <dd>{entry.classes.join(", ") || "—"}</dd>
      <dt>Inputs</dt>
      <dd>
        <Tensors specs={contract.inputs} />
      </dd>
      <dt>Outputs</dt>
      <dd>
        <Tensors specs={contract.outputs} />
      </dd>
      <dt>Preprocessing</dt>
      <dd>{factText(contract.preprocessing) || "—"}</dd>
      <dt>Metrics</dt>
      <dd>
        {factText(version.metrics) || `— (${metricsGap(version)})`}
        {dataset && <div className="muted">measured on {dataset}</div>}
      </dd>
      <dt>Accuracy</dt>
      <dd>{percent(entry.latest_accuracy)}</dd>
      <dt>Parameters</dt>
      <dd>{formatCount(version.params)}</dd>
      <dt>FLOPs</dt>
      <dd>{formatCount(version.flops)} (batch 1)</dd>
      <dt>Weights</dt>
      <dd>{version.has_weights ? <code title="SHA-256">{version.weights_sha256.slice(0, 16)}…</code> : "none (template)"}</dd>
      <dt>Licence</dt>
      <dd>{entry.licence || "—"}</dd>
      <dt>Author</dt>
      <dd>{entry.author}</dd>
      <dt>Version</dt>
      <dd>
        v{version.number}
        {version.changelog && <span className="muted"> · {version.changelog}</span>}
      </dd>
    </dl>
  );
});

/** Why a version shows no metrics: a template has none; uploaded weights say why in their card. */
function metricsGap(version: MarketVersion): string {
  const note = version.card.metrics_note;
  if (typeof note === "string" && note) return note;
  return version.has_weights ? "none recorded" : "a template has no metrics";
}
