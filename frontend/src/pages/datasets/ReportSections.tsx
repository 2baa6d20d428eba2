import type { Deidentification, SplitPreview, SplitWarning } from "./ctReport";

const SPLIT_NAMES = { train: "Train", val: "Validation", test: "Test" } as const;

/** Where the uploaded DICOM files went, and what the cache keeps of the patient. */
export function DeidentificationStatus({ status }: { status: Deidentification }) {
  const kept = status.originals === "deidentified_copies_kept";
  return (
    <section aria-labelledby="deid-heading">
      <h3 id="deid-heading">Patient data</h3>
      <dl className="facts">
        <dt>De-identification</dt>
        <dd>
          <strong className="status status--succeeded">{kept ? "De-identified copies" : "No identifiable data kept"}</strong>
        </dd>
        <dt>Originals</dt>
        <dd>{kept ? `de-identified copies kept (${status.kept_files} files)` : "deleted after the ingest (upload and staging emptied)"}</dd>
        <dt>Profile</dt>
        <dd>{kept ? status.profile : "none applied: no DICOM file is kept, so there is nothing to de-identify"}</dd>
        <dt>Cache</dt>
        <dd>{status.derived}</dd>
      </dl>
    </section>
  );
}

/** An empty split or too few patients, said before anyone trains. */
export function SplitWarnings({ warnings }: { warnings: SplitWarning[] }) {
  if (warnings.length === 0) return null;
  return (
    <div className="alert alert--warning" role="alert" aria-label="Split warnings">
      <ul>
        {warnings.map((warning) => (
          <li key={warning.code}>{capitalise(warning.message)}.</li>
        ))}
      </ul>
    </div>
  );
}

/** How many patients (or samples) each split of an upload would get, before the ingest. */
export function SplitPreviewNote({ preview }: { preview: SplitPreview }) {
  const splits = preview.splits;
  if (!preview.available || !splits) return <p className="muted">{preview.reason}</p>;
  const unit = preview.grouped_by === "patient" ? "patients" : "samples";
  return (
    <section aria-label="Split preview">
      <p>
        This upload would split into{" "}
        {(["train", "val", "test"] as const).map((name, index) => (
          <span key={name}>
            {index > 0 && " · "}
            {SPLIT_NAMES[name]} <strong>{splits[name]?.groups ?? 0}</strong>
          </span>
        ))}{" "}
        {unit} ({preview.groups} in all{preview.files_unread ? `; ${preview.files_unread} files not counted` : ""}).
      </p>
      <SplitWarnings warnings={preview.warnings ?? []} />
    </section>
  );
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
