import { useState } from "react";

import type { Precision } from "../../api/validation";
import { formatBytes, formatCount } from "../model/format";
import { useValidation } from "../stores/validationStore";

// Same names as a run's precision_mode, everywhere; the titles say what the 16-bit modes keep in fp32.
const PRECISIONS: { value: Precision; label: string; title: string }[] = [
  { value: "fp32", label: "fp32", title: "Everything in 32-bit floats." },
  { value: "fp16", label: "fp16", title: "16-bit activations (autocast), fp32 weights and optimizer state." },
  { value: "bf16", label: "bf16", title: "bfloat16 activations (autocast), fp32 weights and optimizer state." },
  {
    value: "dynamic",
    label: "dynamic",
    title: "Starts every layer in 16 bits; layers that lose accuracy move to fp32, so a run needs between this figure and fp32's.",
  },
];

/** Validation state and whole-model totals: parameters, FLOPs, training memory. */
export function StatusBar() {
  const status = useValidation((s) => s.status);
  const failure = useValidation((s) => s.failure);
  const report = useValidation((s) => s.report);
  const graphIssues = useValidation((s) => s.graphIssues);
  const batchSize = useValidation((s) => s.batchSize);
  const precision = useValidation((s) => s.precision);
  const setBatchSize = useValidation((s) => s.setBatchSize);
  const setPrecision = useValidation((s) => s.setPrecision);

  const errors = report?.errors.length ?? 0;
  const warnings = report?.warnings.length ?? 0;
  const memory = report?.totals.memory[precision];
  let summary = "Not validated yet";
  if (status === "validating") summary = "Validating…";
  else if (status === "failed") summary = `Validation unavailable: ${failure ?? "unknown error"}`;
  else if (report) {
    summary = report.ok ? "Valid" : `${errors} error${errors === 1 ? "" : "s"}`;
    if (warnings) summary += `, ${warnings} warning${warnings === 1 ? "" : "s"}`;
  }

  return (
    <footer className="status-bar" aria-label="Model summary">
      <span
        className={`status-bar__state status-bar__state--${report?.ok ? "ok" : errors ? "error" : "neutral"}`}
        role="status"
        data-testid="validation-status"
      >
        {summary}
      </span>
      {graphIssues[0] && (
        <span className="status-bar__issue" title={graphIssues.map((i) => i.message).join("\n")}>
          {graphIssues[0].message}
          {graphIssues.length > 1 ? ` (+${graphIssues.length - 1} more)` : ""}
        </span>
      )}
      <span className="status-bar__spacer" />
      <span data-testid="total-params">Params {report ? formatCount(report.totals.params) : "–"}</span>
      <span data-testid="total-flops">FLOPs {report ? formatCount(report.totals.flops) : "–"}</span>
      <span data-testid="total-memory" title={memory ? memoryBreakdown(memory) : undefined}>
        Training memory {memory ? formatBytes(memory.total) : "–"}
      </span>
      <label className="status-bar__control">
        Batch
        <BatchInput key={batchSize} batchSize={batchSize} onCommit={setBatchSize} />
      </label>
      <label className="status-bar__control">
        Precision
        <select aria-label="Precision" value={precision} onChange={(event) => setPrecision(event.target.value as Precision)}>
          {PRECISIONS.map((p) => (
            <option key={p.value} value={p.value} title={p.title}>
              {p.label}
            </option>
          ))}
        </select>
      </label>
    </footer>
  );
}

interface MemoryParts {
  weights: number;
  gradients: number;
  optimizer: number;
  activations: number;
  weight_copies?: number;
  backward_workspace?: number;
}

function memoryBreakdown(m: MemoryParts): string {
  const copies = m.weight_copies ? `, 16-bit weight copies ${formatBytes(m.weight_copies)}` : "";
  const workspace = m.backward_workspace ? `, backward workspace ${formatBytes(m.backward_workspace)}` : "";
  return `weights ${formatBytes(m.weights)}, gradients ${formatBytes(m.gradients)}, optimizer ${formatBytes(m.optimizer)}${copies}, activations ${formatBytes(m.activations)}${workspace}`;
}

/** Typed freely; applied on Enter or when leaving the field (each change re-validates). */
function BatchInput({ batchSize, onCommit }: { batchSize: number; onCommit: (value: number) => void }) {
  const [text, setText] = useState(String(batchSize));
  const commit = () => {
    const value = Number(text);
    if (Number.isInteger(value) && value >= 1) onCommit(value);
    else setText(String(batchSize));
  };
  return (
    <input
      type="number"
      min={1}
      max={65536}
      value={text}
      aria-label="Batch size"
      onChange={(event) => setText(event.target.value)}
      onBlur={commit}
      onKeyDown={(event) => event.key === "Enter" && commit()}
    />
  );
}
