import { type FormEvent, useState } from "react";
import { useNavigate } from "react-router-dom";

import { type ModelVariant, type QuantizeMode, pruneModel, quantizeModel } from "../../api/deploy";
import { ErrorAlert } from "../../components/ErrorAlert";
import { SelectField, TextField } from "../../components/FormField";
import { useFormSubmit } from "../../hooks/useFormSubmit";

const PRUNE_FIELDS = ["config.method", "config.scope", "config.ratio", "config.finetune_epochs", "config"] as const;
const QUANT_FIELDS = ["mode"] as const;
const opts = (values: readonly string[]) => values.map((value) => ({ value, label: value }));

/** Prune and quantize: each makes a new model, opened when queued; its report compares before and after. */
export function CompressPanel({ model, projectId }: { model: ModelVariant; projectId: string }) {
  const navigate = useNavigate();
  const [method, setMethod] = useState("l2");
  const [scope, setScope] = useState("uniform");
  const [ratio, setRatio] = useState("0.3");
  const [finetuneEpochs, setFinetuneEpochs] = useState("2");
  const [mode, setMode] = useState<QuantizeMode>("auto");
  const prune = useFormSubmit(PRUNE_FIELDS);
  const quantize = useFormSubmit(QUANT_FIELDS);
  const open = (next: ModelVariant) => navigate(`/projects/${projectId}/models/${next.id}`);

  const onPrune = (event: FormEvent) => {
    event.preventDefault();
    void prune.submit(async () => open(await pruneModel(model.id, { method, scope, ratio: Number(ratio), finetune_epochs: Number(finetuneEpochs) })));
  };
  const onQuantize = (event: FormEvent) => {
    event.preventDefault();
    void quantize.submit(async () => open(await quantizeModel(model.id, mode)));
  };
  return (
    <section className="card" aria-labelledby="compress-heading">
      <h2 id="compress-heading">Compress</h2>
      <div className="page__columns">
        {model.kind !== "quantized" && (
          <form onSubmit={onPrune} aria-label="Prune">
            <h3>Prune channels</h3>
            <ErrorAlert message={prune.errors.general ?? prune.errors.fields.config?.join(" ")} />
            <SelectField label="Method" value={method} onChange={(e) => setMethod(e.target.value)} options={opts(["l1", "l2", "bn_scale", "taylor"])} errors={prune.errors.fields["config.method"]} />
            <SelectField label="Scope" value={scope} onChange={(e) => setScope(e.target.value)} options={opts(["uniform", "global"])} errors={prune.errors.fields["config.scope"]} />
            <TextField label="Share of channels to remove" inputMode="decimal" value={ratio} onChange={(e) => setRatio(e.target.value)} errors={prune.errors.fields["config.ratio"]} />
            <TextField label="Fine-tune epochs" inputMode="numeric" value={finetuneEpochs} onChange={(e) => setFinetuneEpochs(e.target.value)} errors={prune.errors.fields["config.finetune_epochs"]} hint="Run as a training run of the pruned graph, starting from its weights; 0 skips it." />
            <button type="submit" className="button" disabled={prune.submitting}>
              {prune.submitting ? "Pruning…" : "Prune"}
            </button>
          </form>
        )}
        {model.kind !== "quantized" && (
          <form onSubmit={onQuantize} aria-label="Quantize">
            <h3>Quantize to int8</h3>
            <ErrorAlert message={quantize.errors.general} />
            <SelectField label="Mode" value={mode} onChange={(e) => setMode(e.target.value as QuantizeMode)} options={opts(["auto", "dynamic", "static"])} errors={quantize.errors.fields.mode} />
            <button type="submit" className="button" disabled={quantize.submitting}>
              {quantize.submitting ? "Quantizing…" : "Quantize"}
            </button>
          </form>
        )}
      </div>
    </section>
  );
}

const ROWS: { key: string; label: string; format: (v: number) => string }[] = [
  { key: "params", label: "Parameters", format: (v) => v.toLocaleString() },
  { key: "flops", label: "FLOPs", format: (v) => v.toLocaleString() },
  { key: "file_bytes", label: "Size", format: (v) => `${(v / 1024).toFixed(1)} KiB` },
  { key: "latency_ms", label: "Latency (CPU, batch 1)", format: (v) => `${v.toFixed(3)} ms` },
  { key: "accuracy", label: "Accuracy", format: (v) => `${(v * 100).toFixed(2)} %` },
];

export function ReportTable({ report }: { report: NonNullable<ModelVariant["report"]> }) {
  const cell = (side: Record<string, unknown> | undefined, key: string, format: (v: number) => string) => {
    const value = side?.[key];
    return typeof value === "number" ? format(value) : "—";
  };
  return (
    <table className="table" aria-label="Before and after">
      <thead>
        <tr>
          <th scope="col" />
          <th scope="col">Before</th>
          <th scope="col">After</th>
          <th scope="col">Ratio</th>
        </tr>
      </thead>
      <tbody>
        {ROWS.map((row) => (
          <tr key={row.key}>
            <th scope="row">{row.label}</th>
            <td>{cell(report.before, row.key, row.format)}</td>
            <td>{cell(report.after, row.key, row.format)}</td>
            <td>{cell(report.ratios, row.key, (v) => `${v.toFixed(2)}×`)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
