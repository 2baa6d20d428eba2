import type { ModelCard, TensorSpec } from "../../api/deploy";
import { describeInput, type InputContract } from "./inputContract";
import "./models.css";

/** The endpoint's two calls as code: `/predict` with the input as it comes in the dataset, and `/infer` with the tensor. */
export function predictSnippets(endpoint: string, apiKey: string, contract: InputContract): { curl: string; python: string } | null {
  const request = contract.request;
  if (!request) return null;
  const auth = `Authorization: Bearer ${apiKey}`;
  if (request.kind === "file") {
    return {
      curl: `curl -X POST ${endpoint}/predict \\\n  -H "${auth}" \\\n  -F "file=@${request.example};type=${request.contentType}"`,
      python:
        `import requests\n\nwith open("${request.example}", "rb") as f:\n    response = requests.post(\n        "${endpoint}/predict",\n` +
        `        headers={"Authorization": "Bearer ${apiKey}"},\n        files={"file": ("${request.example}", f, "${request.contentType}")},\n    )\n` +
        `print(response.json())`,
    };
  }
  const row = Object.fromEntries((request.columns.length ? request.columns : ["<column>"]).map((c) => [c, 0]));
  const body = JSON.stringify({ row });
  const pythonRow = `{${Object.keys(row).map((c) => `${JSON.stringify(c)}: 0`).join(", ")}}`;
  return {
    curl: `curl -X POST ${endpoint}/predict \\\n  -H "${auth}" -H "Content-Type: application/json" \\\n  -d '${body}'`,
    python: `import requests\n\nrow = ${pythonRow}  # your values, one per column\nresponse = requests.post(\n    "${endpoint}/predict",\n    headers={"Authorization": "Bearer ${apiKey}"},\n    json={"row": row},\n)\nprint(response.json())`,
  };
}

export function inferSnippets(endpoint: string, apiKey: string, input: TensorSpec | undefined): { curl: string; python: string } {
  const shape = input ? input.shape.map((v, i) => (i === 0 && v < 0 ? 1 : v)) : [1];
  const size = shape.reduce((a, b) => a * b, 1);
  const name = input?.name ?? "input";
  const datatype = input?.datatype ?? "FP32";
  const dtype = datatype === "INT64" ? "np.int64" : datatype === "INT32" ? "np.int32" : "np.float32";
  return {
    curl: `curl -X POST ${endpoint}/infer \\\n  -H "Authorization: Bearer ${apiKey}" -H "Content-Type: application/json" \\\n  -d '{"inputs": [{"name": "${name}", "shape": ${JSON.stringify(shape)}, "datatype": "${datatype}", "data": [/* ${size} numbers */]}]}'`,
    python:
      `import numpy as np\nimport requests\n\nx = np.zeros(${JSON.stringify(shape).replace("[", "(").replace("]", shape.length === 1 ? ",)" : ")")}, dtype=${dtype})  # already preprocessed: see above\n` +
      `response = requests.post(\n    "${endpoint}/infer",\n    headers={"Authorization": "Bearer ${apiKey}"},\n` +
      `    json={"inputs": [{"name": "${name}", "shape": list(x.shape), "datatype": "${datatype}", "data": x.ravel().tolist()}]},\n)\n` +
      `print(response.json()["outputs"][0]["data"])`,
  };
}

/**
 * "Call it from code": the exact preprocessing the endpoint applies (from the model's recorded
 * recipe), `/predict` with a file as it comes in the dataset (the primary call), and `/infer` with
 * the tensor for callers who preprocess themselves.
 */
export function CallFromCode({ endpoint, apiKey, card }: { endpoint: string; apiKey: string; card: ModelCard | null }) {
  const input = card?.inputs[0];
  const contract = describeInput(input ?? { shape: [] }, card?.task);
  const predict = predictSnippets(endpoint, apiKey, contract);
  const infer = inferSnippets(endpoint, apiKey, input);
  return (
    <details className="snippets" data-testid="call-from-code">
      <summary>Call it from code</summary>
      {predict && contract.upload ? (
        <>
          <h3 className="snippets__heading">Send the input as it comes in your data</h3>
          <p data-testid="predict-input">
            <code>POST {endpoint}/predict</code> takes <strong>{contract.upload}</strong> and applies the model's own
            preprocessing, as training did:
          </p>
          <ol className="snippets__steps" data-testid="preprocessing-steps">
            {contract.steps.map((step) => (
              <li key={step}>{step}</li>
            ))}
          </ol>
          <p className="muted">
            It answers {card?.task === "regression" ? "the predicted value" : "the label and each class's probability"} as JSON.
          </p>
          <CopyBlock label="curl" text={predict.curl} />
          <CopyBlock label="Python" text={predict.python} />
        </>
      ) : (
        <p className="muted">
          This model is called with a tensor only: <code>/predict</code> does not take {card?.task === "segmentation" ? "segmentation" : "this kind of"} input.
        </p>
      )}
      <h3 className="snippets__heading">Or send the tensor yourself</h3>
      <p data-testid="infer-tensor">
        <code>POST {endpoint}/infer</code> takes the model's input after preprocessing: <strong>{contract.tensor}</strong>.
      </p>
      {contract.note && <p className="muted">{contract.note}</p>}
      <CopyBlock label="curl (tensor)" text={infer.curl} />
      <CopyBlock label="Python (tensor)" text={infer.python} />
    </details>
  );
}

function CopyBlock({ label, text }: { label: string; text: string }) {
  return (
    <div className="copy-block">
      <div className="copy-block__head">
        <span>{label}</span>
        <button type="button" className="button button--small button--secondary" aria-label={`Copy the ${label} snippet`} onClick={() => void navigator.clipboard?.writeText(text).catch(() => undefined)}>
          Copy
        </button>
      </div>
      <pre>{text}</pre>
    </div>
  );
}
