import { useState } from "react";

import { previewUrl } from "../../api/datasets";
import { type ModelVariant, infer } from "../../api/deploy";
import { ErrorAlert } from "../../components/ErrorAlert";
import { imageToTensor, probabilities, sampleShape } from "../../lib/imageTensor";

interface Prediction {
  label: string;
  probability: number;
}

/** Send one input to the live endpoint: an image (converted here to the input's shape) or JSON numbers. */
export function TryIt({ model, endpoint, apiKey, onPredicted }: { model: ModelVariant; endpoint: string; apiKey: string; onPredicted: () => void }) {
  const input = model.card?.inputs[0];
  const classes = model.card?.classes ?? [];
  const datasetVersion = Number((model.card?.dataset as { version?: number } | undefined)?.version) || null;
  const [json, setJson] = useState("");
  const [sampleIndex, setSampleIndex] = useState("0");
  const [preview, setPreview] = useState<string | null>(null);
  const [result, setResult] = useState<Prediction[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (!input) return null;
  const shape = sampleShape(input.shape);
  const isImage = shape.length === 4;

  const predict = async (data: () => Promise<number[]>) => {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      if (!apiKey) throw new Error("Enter the deployment's API key first.");
      const answer = await infer(endpoint, apiKey, { ...input, shape, data: await data() });
      const values = answer.outputs[0]?.data ?? [];
      const probs = probabilities(values);
      setResult(probs.map((p, i) => ({ label: classes[i] ?? String(i), probability: p })).sort((a, b) => b.probability - a.probability));
      onPredicted();
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : "The prediction failed.");
    } finally {
      setBusy(false);
    }
  };
  const fromFile = (file: File) => {
    setPreview(URL.createObjectURL(file));
    void predict(() => imageToTensor(file, shape));
  };
  const fromSample = () => {
    if (datasetVersion === null) return;
    const url = previewUrl(datasetVersion, Number(sampleIndex) || 0);
    setPreview(url);
    void predict(async () => imageToTensor(await (await fetch(url, { credentials: "same-origin" })).blob(), shape));
  };
  const fromJson = () =>
    void predict(async () => {
      const parsed = JSON.parse(json) as unknown;
      const flat = Array.isArray(parsed) ? (parsed.flat(Infinity) as unknown[]) : [];
      if (flat.length === 0 || flat.some((v) => typeof v !== "number")) throw new Error("Enter a JSON array of numbers.");
      return flat as number[];
    });

  return (
    <section className="try-it" aria-labelledby="try-heading">
      <h3 id="try-heading">Try it</h3>
      <p className="muted">
        Input <code>{input.name}</code>, shape [{shape.join(", ")}]
      </p>
      <div className="page__columns">
        <div>
          {isImage && (
            <>
              <label className="field__label" htmlFor="try-image">
                Image file
              </label>
              <input id="try-image" type="file" accept="image/*" onChange={(e) => e.target.files?.[0] && fromFile(e.target.files[0])} />
              {datasetVersion !== null && (
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
            </>
          )}
          <label className="field__label" htmlFor="try-json">
            Or the input as JSON numbers
          </label>
          <textarea id="try-json" className="field__control" rows={3} value={json} placeholder="[0.0, 0.1, …]" onChange={(e) => setJson(e.target.value)} />
          <button type="button" className="button button--small" disabled={busy || json.trim() === ""} onClick={fromJson}>
            Predict from JSON
          </button>
        </div>
        <div>
          {preview && <img src={preview} alt="The input sent" width={96} height={96} className="try-it__preview" />}
          {busy && <p role="status">Predicting…</p>}
          <ErrorAlert message={error} />
          {result && <PredictionView result={result} />}
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
