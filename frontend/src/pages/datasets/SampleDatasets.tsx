import { useState } from "react";

import { type DatasetVersion, type SampleEntry, createFromSample, listSampleCatalog } from "../../api/datasets";
import { ErrorAlert } from "../../components/ErrorAlert";
import { useResource } from "../../hooks/useResource";

/** The built-in sample datasets, one click each. */
export function SampleDatasets({ projectId, onStarted }: { projectId: number; onStarted: (version: DatasetVersion, name: string) => void }) {
  const catalog = useResource("sample-catalog", (signal) => listSampleCatalog(signal));
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const add = async (sample: SampleEntry["id"], title: string) => {
    setBusy(sample);
    setError(null);
    try {
      onStarted(await createFromSample(projectId, sample), title);
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : "Could not add the sample dataset.");
    } finally {
      setBusy(null);
    }
  };

  return (
    <section className="card" aria-labelledby="samples-heading">
      <h3 id="samples-heading">Sample datasets</h3>
      <ErrorAlert message={error ?? catalog.error?.message} />
      <ul className="sample-list">
        {catalog.data?.map((sample) => (
          <li key={sample.id}>
            <button
              type="button"
              className="button button--small"
              disabled={busy !== null}
              aria-label={`Add sample ${sample.id}`}
              onClick={() => void add(sample.id, sample.title)}
            >
              {busy === sample.id ? "Adding…" : "Add"}
            </button>{" "}
            <span>{sample.title}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
