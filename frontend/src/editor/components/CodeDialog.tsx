import { useState } from "react";

import { getVersionSource } from "../../api/versions";
import { ErrorAlert } from "../../components/ErrorAlert";
import { useResource } from "../../hooks/useResource";
import { useGraph } from "../stores/graphStore";
import { useUi } from "../stores/uiStore";
import { useVersions } from "../stores/versionsStore";
import { Dialog } from "./Dialog";

/** The generated PyTorch source of a saved version, with copy and download. */
export function CodeDialog() {
  const close = useUi((s) => s.closeDialog);
  const requested = useUi((s) => s.codeVersionId);
  const graph = useVersions((s) => s.graph);
  const versions = useVersions((s) => s.versions);
  const saving = useVersions((s) => s.saving);
  const dirty = useGraph((s) => s.dirty);
  const [copied, setCopied] = useState(false);
  const version = requested !== null ? versions.find((v) => v.id === requested) : versions[0];
  const source = useResource(`${graph?.id}:${version?.id ?? "none"}`, (signal) =>
    graph && version ? getVersionSource(graph.id, version.id, signal) : Promise.resolve(null),
  );

  const saveAndShow = async () => {
    try {
      await useVersions.getState().save("Saved to view the code");
      useUi.getState().openCode(null);
    } catch {
      useUi.getState().notify("Could not save.");
    }
  };
  const copy = async () => {
    if (!source.data) return;
    try {
      await navigator.clipboard.writeText(source.data.source);
      setCopied(true);
    } catch {
      useUi.getState().notify("The browser refused to copy; select the code and copy it by hand.");
    }
  };
  const download = () => {
    if (!source.data) return;
    const url = URL.createObjectURL(new Blob([source.data.source], { type: "text/x-python" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = source.data.filename;
    link.click();
    window.setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  return (
    <Dialog title={version ? `PyTorch code of version ${version.number}` : "PyTorch code"} onClose={close} wide>
      {requested === null && dirty && (
        <div className="notice-box">
          <p>
            The canvas has unsaved changes; the code below is the last saved version{version ? ` (${version.number})` : ""}.
          </p>
          <button type="button" className="button" disabled={saving} onClick={() => void saveAndShow()}>
            Save and show the code
          </button>
        </div>
      )}
      {!version && <p className="empty-state">Nothing saved yet. Save a version to generate its code.</p>}
      <ErrorAlert message={source.error?.message} />
      {source.loading && version && <p className="muted">Generating…</p>}
      {source.data && (
        <>
          <div className="code-view__actions">
            <button type="button" className="button" onClick={() => void copy()}>
              {copied ? "Copied" : "Copy"}
            </button>
            <button type="button" className="button" onClick={download}>
              Download {source.data.filename}
            </button>
          </div>
          <pre className="code-view" aria-label="Generated code" tabIndex={0}>
            <code>{source.data.source}</code>
          </pre>
        </>
      )}
    </Dialog>
  );
}
