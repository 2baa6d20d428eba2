import { useState } from "react";

import { type ExportFormat, type ModelExport, type ModelVariant, exportModel, listExports } from "../../api/deploy";
import { ErrorAlert } from "../../components/ErrorAlert";
import { usePolling } from "../../hooks/usePolling";
import { useResource } from "../../hooks/useResource";
import { describe } from "./ModelPage";
import { ModelCardView } from "./ModelCardView";

const FORMATS: { format: ExportFormat; label: string }[] = [
  { format: "onnx", label: "ONNX" },
  { format: "torchscript", label: "TorchScript" },
  { format: "bundle", label: "Bundle" },
  { format: "pytorch_source", label: "PyTorch source" },
];

/** Export in each format; every file is checked against the model (parity) before it is offered, and carries the model card. */
export function ExportPanel({ model }: { model: ModelVariant }) {
  const exports = useResource(`exports${model.id}`, (signal) => listExports(model.id, signal));
  const [error, setError] = useState<string | null>(null);
  const pending = exports.data?.results.some((e) => e.status === "queued" || e.status === "running") ?? false;
  usePolling(pending, exports.reload);
  const start = async (format: ExportFormat) => {
    setError(null);
    try {
      await exportModel(model.id, format);
      exports.reload();
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : "Could not start the export.");
    }
  };
  const formats = model.kind === "quantized" ? FORMATS.filter((f) => f.format === "onnx") : FORMATS;
  return (
    <section className="card" aria-labelledby="export-heading">
      <h2 id="export-heading">Export</h2>
      <div className="toolbar">
        {formats.map((f) => (
          <button key={f.format} type="button" className="button button--secondary button--small" onClick={() => void start(f.format)}>
            Export {f.label}
          </button>
        ))}
      </div>
      <ErrorAlert message={error ?? exports.error?.message} />
      <table className="table" aria-label="Exports">
        <thead>
          <tr>
            <th scope="col">Format</th>
            <th scope="col">Status</th>
            <th scope="col">Parity check</th>
            <th scope="col">File</th>
            <th scope="col">Model card</th>
          </tr>
        </thead>
        <tbody>
          {exports.data?.results.length === 0 && (
            <tr>
              <td colSpan={5} className="muted">
                No exports yet. Choose a format above: each file is checked against the model before it is offered.
              </td>
            </tr>
          )}
          {exports.data?.results.map((e) => (
            <tr key={e.id}>
              <td>{e.format}</td>
              <td className={`status status--${e.status}`}>{e.status}</td>
              <td>{e.verification ? parityText(e.verification) : e.status === "failed" ? describe(e.error) : "—"}</td>
              <td>{e.download ? <a href={e.download}>Download</a> : "—"}</td>
              <td>
                {model.card ? (
                  <details className="export-card">
                    <summary>Model card ({e.format})</summary>
                    <ModelCardView card={model.card} />
                  </details>
                ) : (
                  "—"
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function parityText(v: NonNullable<ModelExport["verification"]>): string {
  const source = v.samples_source ? ` (${v.samples_source})` : "";
  return `${v.passed ? "passed" : "FAILED"}: max |Δ| ${v.max_abs_diff?.toExponential(2)} ≤ ${v.tolerance} on ${v.samples} samples${source}`;
}
