import { useEffect, useState } from "react";

import { ApiError } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { formatDate } from "../../lib/format";
import { useUi } from "../stores/uiStore";
import { useVersions } from "../stores/versionsStore";

/** The graph's saved versions: open, restore, view the code of, and compare any two. */
export function VersionsPanel() {
  const versions = useVersions((s) => s.versions);
  const status = useVersions((s) => s.status);
  const loadError = useVersions((s) => s.error);
  const baseVersionId = useVersions((s) => s.baseVersionId);
  const [picked, setPicked] = useState<number[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    void useVersions.getState().refresh();
  }, []);

  const run = async (action: () => Promise<unknown>, done: string) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      useUi.getState().notify(done);
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : "Something went wrong.");
    } finally {
      setBusy(false);
    }
  };

  const toggle = (id: number) =>
    setPicked((current) => (current.includes(id) ? current.filter((v) => v !== id) : [...current.slice(-1), id]));
  const [a, b] = [...picked].sort((x, y) => x - y);

  return (
    <section className="side-panel__body" aria-label="Version history">
      <h2>History</h2>
      <ErrorAlert message={error ?? loadError} />
      {status === "loading" && versions.length === 0 && <p className="muted">Loading versions…</p>}
      {status !== "loading" && versions.length === 0 && (
        <p className="empty-state">No saved versions yet. Save to keep this state of the graph.</p>
      )}
      {versions.length > 0 && (
        <>
          <div className="versions__compare">
            <button
              type="button"
              className="button"
              disabled={a === undefined || b === undefined}
              onClick={() => a !== undefined && b !== undefined && useUi.getState().openCompare(a, b)}
            >
              Compare selected
            </button>
            <span className="muted">{picked.length < 2 ? "Tick two versions." : ""}</span>
          </div>
          <ol className="versions" aria-label="Versions">
            {versions.map((version) => (
              <li key={version.id} className="versions__item" data-testid={`version-${version.number}`}>
                <div className="versions__title">
                  <input
                    type="checkbox"
                    aria-label={`Pick version ${version.number} to compare`}
                    checked={picked.includes(version.id)}
                    onChange={() => toggle(version.id)}
                  />
                  <strong>Version {version.number}</strong>
                  {version.id === baseVersionId && <span className="badge">on canvas</span>}
                  <span className={`badge badge--${version.is_valid ? "valid" : "draft"}`}>{version.is_valid ? "valid" : "draft"}</span>
                </div>
                <p className="versions__message">{version.message || <span className="muted">No message</span>}</p>
                <p className="card__meta">
                  {version.author?.username ?? "someone"} · {formatDate(version.created_at)}
                </p>
                <div className="versions__actions">
                  <button
                    type="button"
                    className="button button--small"
                    disabled={busy}
                    aria-label={`Open version ${version.number}`}
                    onClick={() => void run(() => useVersions.getState().open(version.id), `Opened version ${version.number}; undo to go back.`)}
                  >
                    Open
                  </button>
                  <button
                    type="button"
                    className="button button--small"
                    disabled={busy}
                    aria-label={`Restore version ${version.number}`}
                    onClick={() => void run(() => useVersions.getState().restore(version.id), `Restored version ${version.number} as the newest version.`)}
                  >
                    Restore
                  </button>
                  <button
                    type="button"
                    className="button button--small"
                    aria-label={`Code of version ${version.number}`}
                    onClick={() => useUi.getState().openCode(version.id)}
                  >
                    Code
                  </button>
                  <button
                    type="button"
                    className="button button--small"
                    aria-label={`Compare version ${version.number} with the canvas`}
                    onClick={() => useUi.getState().openCompare(version.id, "current")}
                  >
                    vs canvas
                  </button>
                </div>
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}
