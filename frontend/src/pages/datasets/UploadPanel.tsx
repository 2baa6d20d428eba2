import { type DragEvent, useRef, useState } from "react";

import { type DatasetKind, type DatasetVersion, createDataset, ingestUpload } from "../../api/datasets";
import { ErrorAlert } from "../../components/ErrorAlert";
import { uploadFile } from "../../lib/tusUpload";

const KINDS: { value: DatasetKind; label: string }[] = [
  { value: "image", label: "Images (zip of class folders)" },
  { value: "table", label: "Table (CSV)" },
  { value: "text", label: "Text (CSV)" },
  { value: "ct_dicom", label: "CT, DICOM (zip)" },
  { value: "ct_nifti", label: "CT, NIfTI (zip)" },
];

/**
 * Drop a file: it uploads in resumable chunks (drop the same file again after a failure to
 * continue where it stopped), then a new dataset is created and the upload queued for ingest.
 */
export function UploadPanel({ projectId, onStarted }: { projectId: number; onStarted: (version: DatasetVersion, name: string) => void }) {
  const [kind, setKind] = useState<DatasetKind>("image");
  const [name, setName] = useState("");
  const [targetColumn, setTargetColumn] = useState("");
  const [sent, setSent] = useState<{ done: number; total: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  const start = async (file: File) => {
    setBusy(true);
    setError(null);
    try {
      const upload = await uploadFile(file, { onProgress: (done, total) => setSent({ done, total }) });
      const datasetName = name.trim() || file.name.replace(/\.[^.]+$/, "");
      const dataset = await createDataset({ project: projectId, name: datasetName, kind });
      const options = kind === "table" && targetColumn ? { target_column: targetColumn } : {};
      onStarted(await ingestUpload(dataset.id, upload, options), datasetName);
      setSent(null);
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : "The upload failed.");
    } finally {
      setBusy(false);
    }
  };

  const drop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    const file = event.dataTransfer.files[0];
    if (file && !busy) void start(file);
  };

  const percent = sent && sent.total > 0 ? Math.round((100 * sent.done) / sent.total) : 0;
  return (
    <section className="card" aria-labelledby="upload-heading">
      <h3 id="upload-heading">Upload a dataset</h3>
      <div className="field">
        <label className="field__label" htmlFor="upload-kind">
          Kind
        </label>
        <select id="upload-kind" className="field__control" value={kind} onChange={(e) => setKind(e.target.value as DatasetKind)}>
          {KINDS.map((k) => (
            <option key={k.value} value={k.value}>
              {k.label}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label className="field__label" htmlFor="upload-name">
          Dataset name
        </label>
        <input id="upload-name" className="field__control" value={name} placeholder="the file's name" onChange={(e) => setName(e.target.value)} />
      </div>
      {kind === "table" && (
        <div className="field">
          <label className="field__label" htmlFor="upload-target">
            Target column
          </label>
          <input id="upload-target" className="field__control" value={targetColumn} onChange={(e) => setTargetColumn(e.target.value)} />
        </div>
      )}
      <div
        className={`dropzone${dragging ? " dropzone--over" : ""}`}
        role="button"
        tabIndex={0}
        aria-label="Drop a file here, or press to choose one"
        onClick={() => input.current?.click()}
        onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && input.current?.click()}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={drop}
      >
        Drop a zip or CSV here, or click to choose
      </div>
      <input
        ref={input}
        type="file"
        hidden
        aria-label="Dataset file"
        onChange={(e) => {
          const file = e.target.files?.[0];
          if (file) void start(file);
          e.target.value = "";
        }}
      />
      {sent && (
        <div className="progress-row">
          <progress max={100} value={percent} aria-label="Upload progress" />
          <span>{percent}%</span>
        </div>
      )}
      <ErrorAlert message={error} />
    </section>
  );
}
