import { type FormEvent, memo, useId, useState } from "react";
import { Link } from "react-router-dom";

import { type MarketEntryDetail, type Visibility, describeImportError, importBundle } from "../../api/market";
import { ErrorAlert } from "../../components/ErrorAlert";
import { SelectField } from "../../components/FormField";
import { ImportProgress } from "./ImportProgress";
import { type MarketImportJob, waitForImport } from "./importJob";
import { ProjectPicker } from "./ProjectPicker";
import { VISIBILITY_OPTIONS } from "./visibility";

/**
 * Upload a bundle exported by an installation as a new entry: the server answers with an import
 * job, shown with its progress until the worker has published it; a refusal says why in plain words.
 */
export const ImportBundle = memo(function ImportBundle({ onImported }: { onImported: (entry: MarketEntryDetail) => void }) {
  const fileId = useId();
  const [file, setFile] = useState<File | null>(null);
  const [visibility, setVisibility] = useState<Visibility>("private");
  const [project, setProject] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [imported, setImported] = useState<MarketEntryDetail | null>(null);
  const [job, setJob] = useState<MarketImportJob | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) {
      setError("Choose a bundle file (.zip) first.");
      return;
    }
    setBusy(true);
    setError(null);
    setImported(null);
    try {
      // The answer is a job (202); src/api/market.ts still types it as the entry.
      const started = (await importBundle(file, visibility, visibility === "organization" && project ? Number(project) : undefined));
      const entry = await waitForImport(started, setJob);
      setImported(entry);
      onImported(entry);
    } catch (caught) {
      setError(describeImportError(caught));
    } finally {
      setBusy(false);
      setJob(null);
    }
  };

  return (
    <form className="card market-import" aria-labelledby={`${fileId}-heading`} onSubmit={(event) => void submit(event)} noValidate>
      <h2 id={`${fileId}-heading`}>Import a bundle</h2>
      <p className="muted">A bundle (.zip) exported from this or another installation becomes a new entry of yours.</p>
      <ErrorAlert message={error} />
      <ImportProgress job={job} />
      {imported && (
        <p className="notice" role="status">
          Imported <Link to={`/market/${imported.id}`}>{imported.title}</Link>.
        </p>
      )}
      <div className="field">
        <label className="field__label" htmlFor={fileId}>
          Bundle file
        </label>
        <input
          id={fileId}
          className="field__control"
          type="file"
          accept=".zip,application/zip"
          onChange={(event) => setFile(event.target.files?.[0] ?? null)}
        />
      </div>
      <SelectField label="Visibility of the import" value={visibility} onChange={(e) => setVisibility(e.target.value as Visibility)} options={VISIBILITY_OPTIONS} />
      {visibility === "organization" && <ProjectPicker label="Organization of project" value={project} onChange={setProject} />}
      <button type="submit" className="button" disabled={busy}>
        {busy ? "Importing…" : "Import bundle"}
      </button>
    </form>
  );
});
