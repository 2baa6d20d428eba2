import { type DragEvent, useEffect, useRef, useState } from "react";

import type { FieldErrors } from "../../api/client";
import { type DatasetKind, type DatasetVersion, createDataset, ingestUpload } from "../../api/datasets";
import { ErrorAlert } from "../../components/ErrorAlert";
import { SelectField, TextField } from "../../components/FormField";
import { useFormSubmit } from "../../hooks/useFormSubmit";
import { uploadFile } from "../../lib/tusUpload";
import { hasEmptySplit, previewSplit, type SplitPreview } from "./ctReport";
import { SplitPreviewNote } from "./ReportSections";
import { DEFAULT_SPLIT, SPLIT_ERROR_KEYS, SplitFields, type SplitValues, splitErrors, splitOptions } from "./SplitFields";

const KINDS: { value: DatasetKind; label: string }[] = [
  { value: "image", label: "Images (zip of class folders)" },
  { value: "table", label: "Table (CSV)" },
  { value: "text", label: "Text (CSV)" },
  { value: "ct_dicom", label: "CT, DICOM (zip)" },
  { value: "ct_nifti", label: "CT, NIfTI (zip)" },
];

const FORM_FIELDS = ["name", "kind", "options.target_column", "options.group_column", ...SPLIT_ERROR_KEYS] as const;

/** An upload that is on the server, with its dataset, waiting for options the server accepts. */
interface Uploaded {
  upload: string;
  dataset: number;
  name: string;
}

/**
 * Drop a file: it uploads in resumable chunks (drop the same file again after a failure to
 * continue where it stopped), then a new dataset is created and the upload queued for ingest
 * with the split settings. Options are checked here before anything is sent; when the server
 * still refuses them, the upload and dataset are kept so "Start the ingest" retries with fixes.
 * Before the ingest the server counts how many patients (samples) each split would get; when a
 * split would be empty the ingest waits, with the counts, for new fractions or a second click.
 */
export function UploadPanel({ projectId, onStarted }: { projectId: number; onStarted: (version: DatasetVersion, name: string) => void }) {
  const [kind, setKind] = useState<DatasetKind>("image");
  const [name, setName] = useState("");
  const [targetColumn, setTargetColumn] = useState("");
  const [groupColumn, setGroupColumn] = useState("");
  const [split, setSplit] = useState<SplitValues>(DEFAULT_SPLIT);
  const [checked, setChecked] = useState(false);
  const [uploaded, setUploaded] = useState<Uploaded | null>(null);
  const [sent, setSent] = useState<{ done: number; total: number } | null>(null);
  const [dragging, setDragging] = useState(false);
  const [preview, setPreview] = useState<SplitPreview | null>(null);
  const form = useFormSubmit(FORM_FIELDS);
  const input = useRef<HTMLInputElement>(null);
  const busy = form.submitting;

  const options = (): Record<string, unknown> => ({
    ...splitOptions(split),
    ...(kind === "table" ? { target_column: targetColumn.trim() } : {}),
    ...(kind === "table" && groupColumn.trim() ? { group_column: groupColumn.trim() } : {}),
  });

  const problems = (): FieldErrors => {
    const found = splitErrors(split);
    if (kind === "table" && !targetColumn.trim()) found["options.target_column"] = ["Name the column to predict."];
    return found;
  };
  /** Client-side checks, shown live from the first attempt on; true when the options can be sent. */
  const check = (): boolean => {
    setChecked(true);
    return Object.keys(problems()).length === 0;
  };

  const ingest = async (target: Uploaded) => {
    onStarted(await ingestUpload(target.dataset, target.upload, options()), target.name);
    setUploaded(null);
    setSent(null);
    setPreview(null);
  };

  /** The split the server expects for these options; null when it cannot say (then ingest anyway). */
  const countSplit = async (target: Uploaded): Promise<SplitPreview | null> => {
    try {
      const counted = await previewSplit(target.dataset, target.upload, options());
      setPreview(counted);
      return counted;
    } catch {
      setPreview(null);
      return null;
    }
  };

  // While an upload waits for better fractions, count again as they change.
  const waiting = uploaded;
  useEffect(() => {
    if (!waiting || Object.keys(splitErrors(split)).length > 0) return;
    const timer = setTimeout(() => void countSplit(waiting), 300);
    return () => clearTimeout(timer);
  }, [split, waiting]);

  const start = (file: File) => {
    if (!check()) return;
    setUploaded(null);
    setPreview(null);
    void form.submit(async () => {
      const upload = await uploadFile(file, { onProgress: (done, total) => setSent({ done, total }) });
      const datasetName = name.trim() || file.name.replace(/\.[^.]+$/, "");
      const dataset = await createDataset({ project: projectId, name: datasetName, kind });
      const target = { upload, dataset: dataset.id, name: datasetName };
      setUploaded(target); // kept only while the ingest below waits or is refused
      if (hasEmptySplit(await countSplit(target))) return;
      await ingest(target);
    });
  };

  const retry = () => {
    if (uploaded && check()) void form.submit(() => ingest(uploaded));
  };

  const drop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    const file = event.dataTransfer.files[0];
    if (file && !busy) start(file);
  };

  const errors: FieldErrors = { ...form.errors.fields, ...(checked ? problems() : {}) };
  const percent = sent && sent.total > 0 ? Math.round((100 * sent.done) / sent.total) : 0;
  return (
    <section className="card" aria-labelledby="upload-heading">
      <h3 id="upload-heading">Upload a dataset</h3>
      <SelectField label="Kind" value={kind} disabled={uploaded !== null} onChange={(e) => setKind(e.target.value as DatasetKind)} options={KINDS} errors={errors.kind} />
      <TextField label="Dataset name" value={name} disabled={uploaded !== null} placeholder="the file's name" onChange={(e) => setName(e.target.value)} errors={errors.name} />
      {kind === "table" && (
        <>
          <TextField label="Target column" value={targetColumn} onChange={(e) => setTargetColumn(e.target.value)} errors={errors["options.target_column"]} />
          <TextField label="Group column" hint="Optional. Rows sharing its value stay in one split." value={groupColumn} onChange={(e) => setGroupColumn(e.target.value)} errors={errors["options.group_column"]} />
        </>
      )}
      <SplitFields values={split} onChange={setSplit} errors={errors} />
      {preview && <SplitPreviewNote preview={preview} />}
      {uploaded ? (
        <div className="toolbar">
          <button type="button" className="button" disabled={busy} onClick={retry}>
            {hasEmptySplit(preview) ? "Start the ingest anyway" : "Start the ingest"}
          </button>
          <button type="button" className="button button--secondary" disabled={busy} onClick={() => { setUploaded(null); setPreview(null); }}>
            Choose another file
          </button>
        </div>
      ) : (
        <div
          className={`dropzone${dragging ? " dropzone--over" : ""}`}
          role="button"
          tabIndex={0}
          aria-label="Drop a file here, or press to choose one"
          aria-disabled={busy || undefined}
          onClick={() => !busy && input.current?.click()}
          onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && !busy && input.current?.click()}
          onDragOver={(e) => {
            e.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={drop}
        >
          Drop a zip or CSV here, or click to choose
        </div>
      )}
      <input
        ref={input}
        type="file"
        hidden
        aria-label="Dataset file"
        onChange={(e) => {
          const file = e.target.files?.[0];
          if (file) start(file);
          e.target.value = "";
        }}
      />
      {sent && (
        <div className="progress-row">
          <progress max={100} value={percent} aria-label="Upload progress" />
          <span>{percent}%</span>
        </div>
      )}
      {uploaded && (
        <p className="muted">
          {hasEmptySplit(preview)
            ? "The file is uploaded and waits: change the fractions above (the counts follow), or start the ingest anyway."
            : "The file is uploaded; fix the settings above and start the ingest again."}
        </p>
      )}
      <ErrorAlert message={form.errors.general} />
    </section>
  );
}
