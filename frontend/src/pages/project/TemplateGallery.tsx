import { type FormEvent, useState } from "react";
import { useNavigate } from "react-router-dom";

import { ApiError } from "../../api/client";
import type { Graph } from "../../api/graphs";
import { createFromTemplate, createFromTorchvision, listTemplates } from "../../api/templates";
import { ErrorAlert } from "../../components/ErrorAlert";
import { useResource } from "../../hooks/useResource";

/**
 * Start a graph from a shipped template or a torchvision architecture; the new graph opens in
 * the editor, laid out and ready to edit.
 */
export function TemplateGallery({ projectId }: { projectId: number }) {
  const templates = useResource("templates", (signal) => listTemplates(signal));
  const navigate = useNavigate();
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [architecture, setArchitecture] = useState("resnet50");
  const [numClasses, setNumClasses] = useState("1000");
  const [inputSize, setInputSize] = useState("224");

  const create = async (key: string, action: () => Promise<Graph>) => {
    setBusy(key);
    setError(null);
    try {
      const graph = await action();
      void navigate(`/projects/${graph.project}/graphs/${graph.id}`);
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : "Could not create the graph.");
      setBusy(null);
    }
  };

  const importArchitecture = (event: FormEvent) => {
    event.preventDefault();
    void create("torchvision", () =>
      createFromTorchvision({
        project: projectId,
        architecture,
        num_classes: Number(numClasses) || 1000,
        input_size: Number(inputSize) || 224,
      }),
    );
  };

  return (
    <section className="templates" aria-labelledby="templates-heading">
      <h2 id="templates-heading">Start from a template</h2>
      <ErrorAlert message={error ?? templates.error?.message} />
      {templates.loading && !templates.data && <p className="muted">Loading templates…</p>}
      {templates.data && (
        <>
          <ul className="templates__grid" aria-label="Templates">
            {templates.data.templates.map((template) => (
              <li key={template.id} className="card templates__card">
                <h3 className="card__title">{template.name}</h3>
                <p className="card__text">{template.description}</p>
                <p className="card__meta">
                  {template.task} · {template.modality}
                </p>
                <button
                  type="button"
                  className="button button--small"
                  disabled={busy !== null}
                  aria-label={`Use template ${template.name}`}
                  onClick={() => void create(template.id, () => createFromTemplate({ project: projectId, template: template.id }))}
                >
                  {busy === template.id ? "Creating…" : "Use template"}
                </button>
              </li>
            ))}
          </ul>
          <form className="card templates__import" onSubmit={importArchitecture} aria-labelledby="import-heading">
            <h3 id="import-heading">Import a torchvision architecture</h3>
            <p className="muted">Random weights; every layer becomes an editable node.</p>
            <div className="templates__import-row">
              <div className="field">
                <label className="field__label" htmlFor="import-architecture">
                  Architecture
                </label>
                <select id="import-architecture" className="field__control" value={architecture} onChange={(e) => setArchitecture(e.target.value)}>
                  {templates.data.torchvision.map((name) => (
                    <option key={name} value={name}>
                      {name}
                    </option>
                  ))}
                </select>
              </div>
              <div className="field">
                <label className="field__label" htmlFor="import-classes">
                  Classes
                </label>
                <input id="import-classes" className="field__control" type="number" min={1} value={numClasses} onChange={(e) => setNumClasses(e.target.value)} />
              </div>
              <div className="field">
                <label className="field__label" htmlFor="import-input-size">
                  Input size
                </label>
                <input id="import-input-size" className="field__control" type="number" min={32} max={1024} value={inputSize} onChange={(e) => setInputSize(e.target.value)} />
              </div>
            </div>
            <button type="submit" className="button" disabled={busy !== null}>
              {busy === "torchvision" ? "Importing…" : "Import"}
            </button>
          </form>
        </>
      )}
    </section>
  );
}
