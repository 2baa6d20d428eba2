import { useState } from "react";
import { useNavigate } from "react-router-dom";

import { type BuiltModel, buildModel } from "../../api/datasets";
import { ErrorAlert } from "../../components/ErrorAlert";
import { toFormErrors } from "../../hooks/useFormSubmit";

import "./buildModel.css";

/** What the Train page shows after "Build a model for this data": the graph made and what changed. */
export interface BuiltForData {
  built: BuiltModel;
  datasetName: string;
  datasetVersion: number;
}

/** The Train page's address for a graph version and a dataset version, both chosen. */
export function trainUrl(projectId: number, graphVersion: number, datasetVersion: number): string {
  return `/projects/${projectId}/train?graph_version=${graphVersion}&dataset_version=${datasetVersion}`;
}

/**
 * One click from a ready dataset version to a graph sized to it: the server starts from the
 * closest template and adapts its input and output; the Train page opens with both chosen and
 * the notes of what was changed.
 */
export function BuildModelButton({ projectId, datasetName, versionId }: { projectId: number; datasetName: string; versionId: number }) {
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const onClick = async () => {
    setBusy(true);
    setError(null);
    try {
      const built = await buildModel(versionId);
      const state: BuiltForData = { built, datasetName, datasetVersion: versionId };
      void navigate(trainUrl(projectId, built.version.id, versionId), { state: { builtForData: state } });
    } catch (caught) {
      setError(toFormErrors(caught, []).general);
      setBusy(false);
    }
  };
  return (
    <section className="build-model" aria-label="Start from this data">
      <button type="button" className="button" onClick={() => void onClick()} disabled={busy}>
        {busy ? "Building…" : "Build a model for this data"}
      </button>
      <p className="muted">A graph sized to these samples and classes, from the closest template, ready to train.</p>
      <ErrorAlert message={error} />
    </section>
  );
}
