import { type FormEvent, useEffect, useMemo, useState } from "react";
import { useNavigate, useSearchParams } from "react-router-dom";

import { isUsable, listDatasets } from "../../api/datasets";
import { listGraphs } from "../../api/graphs";
import { createRun } from "../../api/runs";
import { ErrorAlert } from "../../components/ErrorAlert";
import { SelectField, TextField } from "../../components/FormField";
import { useFormSubmit } from "../../hooks/useFormSubmit";
import { useResource } from "../../hooks/useResource";
import { StartingWeights } from "./StartingWeights";
import { startFromSearch, useFineTune, withFineTune } from "./fineTuneStore";
import { memoryText, useRunEstimate } from "./runEstimate";
import { DEFAULTS, FIELD_OF, LOSSES, SERVER_FIELDS, type TrainValues, defaultsFor, toRunConfig } from "./trainConfig";

const opts = (values: readonly string[]) => values.map((value) => ({ value, label: value }));

/** The run's settings with defaults; the server's 400 lands on the field it names. */
export function TrainForm({ projectId }: { projectId: string }) {
  const navigate = useNavigate();
  const [search] = useSearchParams();
  const graphs = useResource(`g${projectId}`, (signal) => listGraphs(projectId, 1, signal));
  const datasets = useResource(`d${projectId}`, (signal) => listDatasets(projectId, signal));
  const [values, setValues] = useState<TrainValues>(DEFAULTS);
  const { submitting, errors, submit } = useFormSubmit(SERVER_FIELDS);
  const marketVersion = search.get("market_version");
  const fork = search.get("fork");
  const offered = useMemo(() => startFromSearch(marketVersion, fork), [marketVersion, fork]);
  const startFrom = useFineTune((s) => s.startFrom);
  const freeze = useFineTune((s) => s.freeze);

  // Opened from the market: start from its weights, at the smaller step pretrained weights want.
  useEffect(() => {
    useFineTune.getState().start(offered);
    if (offered) setValues((v) => ({ ...v, lr: "0.0001" }));
    return () => useFineTune.getState().reset();
  }, [offered]);

  const graphOptions = useMemo(
    () =>
      (graphs.data?.results ?? [])
        .filter((g) => g.latest_version)
        .map((g) => ({ value: String(g.latest_version!.id), label: `${g.name} (v${g.latest_version!.number}${g.latest_version!.is_valid ? "" : ", invalid"})` })),
    [graphs.data],
  );
  const graphOf = useMemo(
    () => new Map((graphs.data?.results ?? []).flatMap((g) => (g.latest_version ? [[g.latest_version.id, g.id] as const] : []))),
    [graphs.data],
  );
  const datasetOptions = useMemo(
    () =>
      (datasets.data?.results ?? [])
        .filter((d) => d.latest_version && isUsable(d.latest_version.status))
        .map((d) => ({ value: String(d.latest_version!.id), label: `${d.name} (v${d.latest_version!.number}, ${d.latest_version!.sample_count} samples)` })),
    [datasets.data],
  );

  // Pick the first graph and ready dataset once they load, and defaults fitting that dataset.
  useEffect(() => {
    setValues((v) => (v.graph_version || !graphOptions[0] ? v : { ...v, graph_version: search.get("graph_version") ?? graphOptions[0].value }));
  }, [graphOptions, search]);
  useEffect(() => {
    const first = datasets.data?.results.find((d) => d.latest_version && isUsable(d.latest_version.status));
    if (!first) return;
    setValues((v) => (v.dataset_version ? v : { ...v, dataset_version: String(first.latest_version!.id), ...defaultsFor(undefined, first.latest_version!.sample_count) }));
  }, [datasets.data]);

  const set = (key: keyof TrainValues) => (event: { target: { value: string } }) => {
    const value = event.target.value;
    setValues((v) => (key === "task" ? { ...v, task: value, loss: LOSSES[value]?.[0] ?? v.loss } : { ...v, [key]: value }));
  };
  const err = (key: keyof TrainValues) => errors.fields[FIELD_OF[key]];

  const body = useMemo(
    () =>
      values.graph_version && values.dataset_version
        ? { graph_version: Number(values.graph_version), dataset_version: Number(values.dataset_version), config: withFineTune(toRunConfig(values), startFrom, freeze) }
        : null,
    [values, startFrom, freeze],
  );
  const estimate = useRunEstimate(body);

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    void submit(async () => {
      // Incomplete (no graph or dataset yet): sent anyway, so the server's message lands on the field.
      const run = await createRun(body ?? { graph_version: 0, dataset_version: 0, config: withFineTune(toRunConfig(values), startFrom, freeze) });
      void navigate(`/projects/${projectId}/runs/${run.id}`);
    });
  };

  return (
    <form className="card train-form" onSubmit={onSubmit} aria-labelledby="train-heading" noValidate>
      <h2 id="train-heading">New training run</h2>
      <ErrorAlert message={errors.general ?? graphs.error?.message ?? datasets.error?.message} />
      <SelectField label="Graph" value={values.graph_version} onChange={set("graph_version")} errors={err("graph_version")}
        options={graphOptions.length ? graphOptions : [{ value: "", label: "No saved graph yet" }]} />
      <SelectField label="Dataset" value={values.dataset_version} onChange={set("dataset_version")} errors={err("dataset_version")}
        options={datasetOptions.length ? datasetOptions : [{ value: "", label: "No ready dataset yet" }]} />
      <StartingWeights offered={offered} graphId={graphOf.get(Number(values.graph_version)) ?? null} versionId={values.graph_version ? Number(values.graph_version) : null} />
      <div className="form-grid">
        <SelectField label="Task" value={values.task} onChange={set("task")} errors={err("task")} options={opts(Object.keys(LOSSES))} />
        <SelectField label="Loss" value={values.loss} onChange={set("loss")} errors={err("loss")} options={opts(LOSSES[values.task] ?? [])} />
        <SelectField label="Optimizer" value={values.optimizer} onChange={set("optimizer")} errors={err("optimizer")} options={opts(["adam", "adamw", "sgd"])} />
        <TextField label="Learning rate" inputMode="decimal" value={values.lr} onChange={set("lr")} errors={err("lr")} />
        <SelectField label="Schedule" value={values.schedule} onChange={set("schedule")} errors={err("schedule")} options={opts(["none", "step", "cosine", "one_cycle"])} />
        <TextField label="Epochs" type="number" min={1} value={values.epochs} onChange={set("epochs")} errors={err("epochs")} />
        <TextField label="Batch size" type="number" min={1} value={values.batch_size} onChange={set("batch_size")} errors={err("batch_size")} />
        <SelectField label="Precision" value={values.precision_mode} onChange={set("precision_mode")} errors={err("precision_mode")} options={opts(["fp32", "fp16", "bf16", "dynamic"])} />
        {values.precision_mode === "dynamic" && (
          <TextField label="Precision threshold" hint="Relative error above which a layer moves to fp32." inputMode="decimal" value={values.threshold} onChange={set("threshold")} errors={err("threshold")} />
        )}
        <SelectField label="Device" value={values.device} onChange={set("device")} errors={err("device")} options={opts(["auto", "cpu", "cuda", "mps", "xpu"])} />
        <TextField label="GPUs" type="number" min={1} value={values.gpus} onChange={set("gpus")} errors={err("gpus")} />
      </div>
      <section className="train-form__estimate" aria-label="Before starting" aria-live="polite" data-testid="run-estimate">
        {estimate.status === "loading" && <p className="muted">Checking the run…</p>}
        {estimate.status === "ready" && estimate.estimate.plan.memory && (
          <p>{memoryText(estimate.estimate.plan.memory, Number(estimate.estimate.config.batch_size) || undefined)}</p>
        )}
        {estimate.status === "refused" && (
          <div className="alert alert--warning" role="note">
            <p>Starting now would be refused:</p>
            <ul>
              {estimate.messages.map((message) => (
                <li key={message}>{message}</li>
              ))}
            </ul>
          </div>
        )}
      </section>
      <button type="submit" className="button" disabled={submitting}>
        {submitting ? "Starting…" : "Start training"}
      </button>
    </form>
  );
}
