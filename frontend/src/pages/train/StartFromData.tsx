import { useEffect, useState } from "react";
import { Link } from "react-router-dom";

import { type BuiltModel, type InputCheck, adaptGraph, checkInput } from "../../api/datasets";
import { ErrorAlert } from "../../components/ErrorAlert";
import { toFormErrors } from "../../hooks/useFormSubmit";

import "./startFromData.css";

/** "1×8×8" */
export function dims(shape: readonly number[] | null | undefined): string {
  return shape?.length ? shape.join("×") : "?";
}

/** A graph made or adapted for the data: which, and the notes of what was changed. */
export function ChangeNotes({ projectId, built, heading }: { projectId: string; built: BuiltModel; heading: string }) {
  return (
    <div className="alert alert--info change-notes" role="note" aria-label="What was adapted" data-testid="change-notes">
      <p>
        <strong>{heading}</strong> “{built.graph_name}” v{built.version.number}.{" "}
        <Link to={`/projects/${projectId}/graphs/${built.graph}`}>Open it on the canvas</Link>
      </p>
      <ul>
        {built.notes.map((note) => (
          <li key={note}>{note}</li>
        ))}
      </ul>
    </div>
  );
}

type CheckState = { status: "idle" } | { status: "ready"; check: InputCheck } | { status: "failed" };

/** Asks the server whether the chosen graph version's input takes the chosen dataset version as it is. */
export function useInputCheck(datasetVersion: number | null, graphVersion: number | null): CheckState {
  const [state, setState] = useState<CheckState>({ status: "idle" });
  useEffect(() => {
    setState({ status: "idle" });
    if (!datasetVersion || !graphVersion) return;
    const controller = new AbortController();
    checkInput(datasetVersion, graphVersion, controller.signal).then(
      (check) => {
        if (!controller.signal.aborted) setState({ status: "ready", check });
      },
      () => {
        if (!controller.signal.aborted) setState({ status: "failed" });
      },
    );
    return () => controller.abort();
  }, [datasetVersion, graphVersion]);
  return state;
}

export interface InputMismatchProps {
  check: InputCheck;
  datasetVersion: number;
  graphVersion: number;
  /** Called with the new graph version once it is saved. */
  onAdapted: (built: BuiltModel) => void;
}

/**
 * The graph's input differs from the data: both shapes, the resize training would make (or that it
 * would be refused), and a way to make a new graph version that takes the data as it is.
 */
export function InputMismatch({ check, datasetVersion, graphVersion, onAdapted }: InputMismatchProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const adapt = async () => {
    setBusy(true);
    setError(null);
    try {
      onAdapted(await adaptGraph(datasetVersion, graphVersion));
    } catch (caught) {
      setError(toFormErrors(caught, []).general);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="alert alert--warning input-mismatch" role="alert" data-testid="input-mismatch">
      <p>
        The graph takes <strong>{dims(check.graph_shape)}</strong> samples; this dataset’s are <strong>{dims(check.data_shape)}</strong>.{" "}
        {check.resize
          ? `Training would resize every image to ${dims(check.resize)}, which blurs or crops what the data holds.`
          : "Training would be refused."}
      </p>
      <button type="button" className="button button--small" onClick={() => void adapt()} disabled={busy}>
        {busy ? "Adapting…" : "Adapt the input to this dataset"}
      </button>{" "}
      <span className="muted">Saves a new version of the graph; this one stays as it is.</span>
      <ErrorAlert message={error} />
    </div>
  );
}
