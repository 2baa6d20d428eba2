import { useState } from "react";

import { previewUrl } from "../../api/datasets";
import { type ModelVariant, type PredictResponse, type TableRow, type TensorSpec, PredictError, infer, predict } from "../../api/deploy";
import { ErrorAlert } from "../../components/ErrorAlert";
import { probabilities, sampleShape } from "../../lib/imageTensor";
import { TryItMask } from "./TryItMask";
import { RowForm, rowFeatures } from "./TryItRow";

interface Prediction {
  label: string;
  probability: number;
}

type Warning = NonNullable<PredictResponse["warnings"]>[number];

type InputKind = "image" | "ct" | "table";

const ACCEPT: Record<Exclude<InputKind, "table">, { label: string; accept: string }> = {
  image: { label: "Image file (PNG or JPEG)", accept: "image/png,image/jpeg,.png,.jpg,.jpeg" },
  ct: { label: "DICOM series (.zip), DICOM slice (.dcm) or NIfTI volume (.nii, .nii.gz)", accept: ".zip,.dcm,.nii,.nii.gz,.gz,application/zip,application/dicom" },
};

/** What `predict` takes for this input, as the server decides it (the recorded `input`, else 4D = image); null: infer only. */
export function inputKind(input: TensorSpec): InputKind | null {
  const recorded = input.preprocessing?.input;
  const source = typeof recorded === "string" && recorded !== "" ? recorded : input.shape.length === 4 ? "image" : "";
  return source === "image" || source === "ct" || source === "table" ? source : null;
}

function fromPredict(answer: PredictResponse): Prediction[] {
  if (answer.probabilities) return Object.entries(answer.probabilities).map(([label, probability]) => ({ label, probability })).sort((a, b) => b.probability - a.probability);
  if (answer.label !== undefined) return [{ label: answer.label, probability: 1 }];
  return [];
}

/**
 * Send one input to the live endpoint's `predict`, which applies the model's own preprocessing:
 * an image, a DICOM slice, a zip of one DICOM series or a NIfTI file, or a table row. A raw tensor (JSON numbers) goes to `infer`.
 * A refusal is shown next to the part it names (`file`, `row.<column>`), else above the result.
 */
export function TryIt({ model, endpoint, apiKey, onPredicted }: { model: ModelVariant; endpoint: string; apiKey: string; onPredicted: () => void }) {
  const input = model.card?.inputs[0];
  const classes = model.card?.classes ?? [];
  const datasetVersion = Number((model.card?.dataset as { version?: number } | undefined)?.version) || null;
  const [json, setJson] = useState("");
  const [sampleIndex, setSampleIndex] = useState("0");
  const [preview, setPreview] = useState<string | null>(null);
  const [result, setResult] = useState<Prediction[] | null>(null);
  const [value, setValue] = useState<number | null>(null);
  const [warnings, setWarnings] = useState<Warning[]>([]);
  const [error, setError] = useState<{ message: string; field: string | null } | null>(null);
  const [busy, setBusy] = useState(false);
  if (!input) return null;
  const kind = inputKind(input);
  const shape = sampleShape(input.shape);

  const run = async (send: () => Promise<PredictResponse>) => {
    setBusy(true);
    setError(null);
    setResult(null);
    setValue(null);
    setWarnings([]);
    try {
      if (!apiKey) throw new Error("Enter the deployment's API key first.");
      const answer = await send();
      setResult(fromPredict(answer));
      setValue(typeof answer.value === "number" ? answer.value : null);
      setWarnings(answer.warnings ?? []);
      onPredicted();
    } catch (failure) {
      if (failure instanceof PredictError) {
        const status = failure.status > 0 ? ` (${failure.status})` : "";
        setError({ message: `The endpoint refused it${status}: ${failure.message}`, field: failure.field });
      } else setError({ message: failure instanceof Error ? failure.message : "The prediction failed.", field: null });
    } finally {
      setBusy(false);
    }
  };
  const fromFile = (file: File) => {
    setPreview(kind === "image" ? URL.createObjectURL(file) : null);
    void run(() => predict(endpoint, apiKey, file));
  };
  const fromSample = () => {
    if (datasetVersion === null) return;
    const url = previewUrl(datasetVersion, Number(sampleIndex) || 0);
    setPreview(url);
    void run(async () => predict(endpoint, apiKey, await (await fetch(url, { credentials: "same-origin" })).blob(), "sample.png"));
  };
  const fromRow = (row: TableRow) => void run(() => predict(endpoint, apiKey, row));
  const fromJson = () =>
    void run(async () => {
      const parsed = JSON.parse(json) as unknown;
      const flat = Array.isArray(parsed) ? (parsed.flat(Infinity) as unknown[]) : [];
      if (flat.length === 0 || flat.some((v) => typeof v !== "number")) throw new Error("Enter a JSON array of numbers.");
      const answer = await infer(endpoint, apiKey, { ...input, shape, data: flat as number[] });
      const probs = probabilities(answer.outputs[0]?.data ?? []);
      return { probabilities: Object.fromEntries(probs.map((p, i) => [classes[i] ?? String(i), p])) };
    });

  if (kind === "ct" && model.card?.task === "segmentation")
    return (
      <section className="try-it" aria-labelledby="try-heading">
        <h3 id="try-heading">Try it</h3>
        <p className="muted">A CT volume in, its predicted mask out (NIfTI, on the volume's own grid).</p>
        <TryItMask endpoint={endpoint} apiKey={apiKey} onPredicted={onPredicted} />
      </section>
    );
  const fileError = error && (error.field === "file" || error.field === "body") ? error.message : null;
  const rowErrors: Record<string, string> = error?.field?.startsWith("row.") ? { [error.field.slice(4)]: error.message } : {};
  const generalError = error && fileError === null && Object.keys(rowErrors).length === 0 ? error.message : null;
  return (
    <section className="try-it" aria-labelledby="try-heading">
      <h3 id="try-heading">Try it</h3>
      <p className="muted">
        Input <code>{input.name}</code>, shape [{shape.join(", ")}]
      </p>
      <div className="page__columns">
        <div>
          {(kind === "image" || kind === "ct") && (
            <>
              <label className="field__label" htmlFor="try-file">
                {ACCEPT[kind].label}
              </label>
              <input id="try-file" type="file" accept={ACCEPT[kind].accept} disabled={busy} onChange={(e) => e.target.files?.[0] && fromFile(e.target.files[0])} />
              <ErrorAlert message={fileError} />
            </>
          )}
          {kind === "image" && datasetVersion !== null && (
            <div className="inline-form">
              <label className="field__label" htmlFor="try-sample">
                Dataset sample number
              </label>
              <input id="try-sample" className="field__control" type="number" min={0} value={sampleIndex} onChange={(e) => setSampleIndex(e.target.value)} />
              <button type="button" className="button button--small" disabled={busy} onClick={fromSample}>
                Predict this sample
              </button>
            </div>
          )}
          {kind === "table" && <RowForm features={rowFeatures(input)} busy={busy} fieldErrors={rowErrors} onSubmit={fromRow} />}
          <details open={kind === null}>
            <summary>Or send the input tensor as JSON numbers</summary>
            <label className="field__label" htmlFor="try-json">
              Input as JSON numbers
            </label>
            <textarea id="try-json" className="field__control" rows={3} value={json} placeholder="[0.0, 0.1, …]" onChange={(e) => setJson(e.target.value)} />
            <button type="button" className="button button--small" disabled={busy || json.trim() === ""} onClick={fromJson}>
              Predict from JSON
            </button>
          </details>
        </div>
        <div>
          {preview && <img src={preview} alt="The input sent" width={96} height={96} className="try-it__preview" />}
          {busy && <p role="status">Predicting…</p>}
          <ErrorAlert message={generalError} />
          {value !== null && (
            <p className="prediction">
              Predicted value: <strong data-testid="predicted-value">{Number(value.toPrecision(6))}</strong>
            </p>
          )}
          {result && result.length > 0 && <PredictionView result={result} />}
          {warnings.length > 0 && (
            <ul className="muted" aria-label="Input warnings">
              {warnings.map((w) => (
                <li key={w.code}>{w.message}</li>
              ))}
            </ul>
          )}
        </div>
      </div>
    </section>
  );
}

function PredictionView({ result }: { result: Prediction[] }) {
  const top = result[0]!;
  return (
    <div aria-label="Prediction">
      <p className="prediction">
        Predicted class: <strong data-testid="predicted-class">{top.label}</strong> ({(top.probability * 100).toFixed(1)} %)
      </p>
      <ul className="probabilities" aria-label="Probabilities">
        {result.slice(0, 10).map((p) => (
          <li key={p.label}>
            <span className="probabilities__label">{p.label}</span>
            <meter min={0} max={1} value={p.probability} aria-label={`Probability of ${p.label}`} />
            <span>{(p.probability * 100).toFixed(1)} %</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
