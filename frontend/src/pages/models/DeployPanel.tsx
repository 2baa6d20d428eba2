import { type FormEvent, useState } from "react";

import { type Deployment, type ModelVariant, deploy, getDeployment, listDeployments, undeploy } from "../../api/deploy";
import { ErrorAlert } from "../../components/ErrorAlert";
import { TextField } from "../../components/FormField";
import { useFormSubmit } from "../../hooks/useFormSubmit";
import { usePolling } from "../../hooks/usePolling";
import { useResource } from "../../hooks/useResource";
import { describe } from "./ModelPage";
import { CallFromCode } from "./CallFromCode";
import { deploymentLabel } from "./deploymentStatus";
import { EngineExports } from "./EngineExports";
import { TryIt } from "./TryIt";

const DEPLOY_FIELDS = ["name", "model"] as const;

/** Deploy this model; the endpoint, the key (shown once), snippets, metrics, undeploy and Try it. */
export function DeployPanel({ model }: { model: ModelVariant }) {
  const list = useResource(`deps${model.project}`, (signal) => listDeployments(model.project, signal));
  const current = list.data?.results.find((d) => d.model === model.id && d.status !== "cancelled") ?? null;
  const [name, setName] = useState(`model-${model.id}`);
  const [apiKey, setApiKey] = useState<string | null>(null);
  const { submitting, errors, submit } = useFormSubmit(DEPLOY_FIELDS);

  const onDeploy = (event: FormEvent) => {
    event.preventDefault();
    void submit(async () => {
      const answer = await deploy(model.id, name);
      setApiKey(answer.api_key);
      list.reload();
    });
  };
  return (
    <section className="card" aria-labelledby="deploy-heading">
      <h2 id="deploy-heading">Deploy</h2>
      {current ? (
        <LiveDeployment key={current.id} initial={current} apiKey={apiKey} model={model} onStopped={list.reload} />
      ) : (
        <form onSubmit={onDeploy} className="inline-form">
          <ErrorAlert message={errors.general} />
          <TextField label="Endpoint name" value={name} onChange={(e) => setName(e.target.value)} errors={errors.fields.name} hint="Letters, digits and dashes: /v2/models/<name>" />
          <button type="submit" className="button" disabled={submitting}>
            {submitting ? "Deploying…" : "Deploy"}
          </button>
        </form>
      )}
    </section>
  );
}

function LiveDeployment({ initial, apiKey, model, onStopped }: { initial: Deployment; apiKey: string | null; model: ModelVariant; onStopped: () => void }) {
  const deployment = useResource(`dep${initial.id}`, (signal) => getDeployment(initial.id, signal));
  const d = deployment.data ?? initial;
  const live = d.status === "succeeded";
  usePolling(d.status === "queued" || d.status === "running" || live, deployment.reload, live ? 5000 : 1500);
  const [error, setError] = useState<string | null>(null);
  const [typedKey, setTypedKey] = useState("");
  const endpoint = `${window.location.origin}${d.url}`;
  const key = apiKey ?? typedKey;
  const stop = async () => {
    setError(null);
    try {
      await undeploy(d.id);
      onStopped();
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : "Could not undeploy.");
    }
  };
  const latency = d.metrics.latency_ms;
  return (
    <div>
      <p>
        Status: <strong className={`status status--${d.status}`} data-testid="deployment-status">{deploymentLabel(d.status)}</strong> · endpoint{" "}
        <code>{endpoint}</code>
      </p>
      {d.status === "failed" && <ErrorAlert message={`The deployment failed: ${describe(d.error)}`} />}
      {apiKey && <KeyOnce apiKey={apiKey} />}
      <CallFromCode endpoint={endpoint} apiKey={apiKey ?? "<your key>"} card={model.card} />
      <p className="muted">
        Requests {d.metrics.requests ?? 0} · errors {d.metrics.errors ?? 0}
        {latency?.p50 != null && ` · latency p50 ${latency.p50} ms, p95 ${latency.p95} ms, p99 ${latency.p99} ms`}
      </p>
      <ErrorAlert message={error} />
      <button type="button" className="button button--danger button--small" onClick={() => void stop()}>
        Undeploy
      </button>
      {live && (
        <>
          {!apiKey && <TextField label="API key for Try it" type="password" value={typedKey} onChange={(e) => setTypedKey(e.target.value)} />}
          <TryIt model={model} endpoint={d.url} apiKey={key} onPredicted={deployment.reload} />
          <EngineExports deployment={d} />
        </>
      )}
    </div>
  );
}

function KeyOnce({ apiKey }: { apiKey: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(apiKey);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <div className="alert alert--info" role="status">
      <p>
        <strong>API key</strong> (shown only now; store it somewhere safe):
      </p>
      <code className="secret" aria-label="API key">
        {apiKey}
      </code>{" "}
      <button type="button" className="button button--small" onClick={() => void copy()}>
        {copied ? "Copied" : "Copy key"}
      </button>
    </div>
  );
}
