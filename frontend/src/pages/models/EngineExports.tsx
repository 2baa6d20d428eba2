import { type FormEvent, useState } from "react";

import { type Deployment, type EngineExportQuery, type KServeRuntime, exportForEngine } from "../../api/deploy";
import { ErrorAlert } from "../../components/ErrorAlert";
import { SelectField, TextField } from "../../components/FormField";
import { useFormSubmit } from "../../hooks/useFormSubmit";

const FIELDS = ["storage_uri", "runtime", "max_batch_size"] as const;
const RUNTIMES: { value: KServeRuntime; label: string }[] = [
  { value: "triton", label: "Triton (the URI holds the Triton repository)" },
  { value: "onnx", label: "ONNX (the URI holds model.onnx)" },
];

function save(blob: Blob, filename: string) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.click();
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** The live deployment's model for Triton Inference Server or KServe (docs/guides/deploying.md). */
export function EngineExports({ deployment }: { deployment: Deployment }) {
  const [maxBatch, setMaxBatch] = useState("32");
  const [storageUri, setStorageUri] = useState(`s3://my-bucket/models/${deployment.name}`);
  const [runtime, setRuntime] = useState<KServeRuntime>("triton");
  const { submitting, errors, submit } = useFormSubmit(FIELDS);

  const download = (query: EngineExportQuery, filename: string) =>
    void submit(async () => save(await exportForEngine(deployment.id, query), filename));
  const triton = (event: FormEvent) => {
    event.preventDefault();
    download({ target: "triton", max_batch_size: Number(maxBatch) }, `${deployment.name}-triton.zip`);
  };
  const kserve = (event: FormEvent) => {
    event.preventDefault();
    download({ target: "kserve", storage_uri: storageUri, runtime }, `${deployment.name}-inferenceservice.yaml`);
  };
  return (
    <section aria-labelledby="engines-heading" className="engine-exports">
      <h3 id="engines-heading">Serve on Triton or KServe</h3>
      <p className="muted">
        Built from the ONNX model this endpoint serves, so the engine answers <code>/v2/models/{deployment.name}/infer</code> as it does.
      </p>
      <ErrorAlert message={errors.general} />
      <form onSubmit={triton} className="inline-form">
        <TextField label="Max batch size" type="number" min={1} max={4096} value={maxBatch} onChange={(e) => setMaxBatch(e.target.value)} errors={errors.fields.max_batch_size} hint="Triton's dynamic batching forms batches up to this size." />
        <button type="submit" className="button button--secondary button--small" disabled={submitting}>
          Download Triton repository
        </button>
      </form>
      <form onSubmit={kserve} className="inline-form">
        <TextField label="Storage URI" value={storageUri} onChange={(e) => setStorageUri(e.target.value)} errors={errors.fields.storage_uri} hint="s3://, gs://, pvc:// or https:// where you upload the model." />
        <SelectField label="KServe runtime" options={RUNTIMES} value={runtime} onChange={(e) => setRuntime(e.target.value as KServeRuntime)} errors={errors.fields.runtime} />
        <button type="submit" className="button button--secondary button--small" disabled={submitting}>
          Download KServe manifest
        </button>
      </form>
    </section>
  );
}
