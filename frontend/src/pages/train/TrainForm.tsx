import { type FormEvent, useEffect, useMemo, useState } from "react";
import { useLocation, useNavigate, useSearchParams } from "react-router-dom";

import { type BuiltModel, isUsable, listDatasets } from "../../api/datasets";
import { type Graph, listGraphs } from "../../api/graphs";
import { createRun } from "../../api/runs";
import { ErrorAlert } from "../../components/ErrorAlert";
import { SelectField } from "../../components/FormField";
import { useFormSubmit } from "../../hooks/useFormSubmit";
import { useResource } from "../../hooks/useResource";
import type { BuiltForData } from "../datasets/BuildModelButton";
import { StartingWeights } from "./StartingWeights";
import { FINETUNE_LR, startFromSearch, useFineTune, withFineTune } from "./fineTuneStore";
import { RunConfigFields } from "./RunConfigFields";
import { memoryText, useRunEstimate } from "./runEstimate";
import { ChangeNotes, InputMismatch, useInputCheck } from "./StartFromData";
import { TemplateSettingsNote } from "./TemplateSettingsNote";
import { type Recommendation, applyRecommendation, recommendationOf } from "./templateSettings";
import { type ConfigValues, SERVER_FIELDS, configErrors, defaultsFor, toRunConfig, withTask } from "./trainConfig";

/**
 * A new run: which graph and dataset versions, where its weights start, and its config (forms
 * generated from the server's RunConfig schema); the server's 400 lands on the field it names.
 */
export function TrainForm({ projectId }: { projectId: string }) {
  const navigate = useNavigate();
  const [search] = useSearchParams();
  const graphs = useResource(`g${projectId}`, (signal) => listGraphs(projectId, 1, signal));
  const datasets = useResource(`d${projectId}`, (signal) => listDatasets(projectId, signal));
  const [graphVersion, setGraphVersion] = useState("");
  const [datasetVersion, setDatasetVersion] = useState("");
  const [values, setValues] = useState<ConfigValues>({});
  const { submitting, errors, submit } = useFormSubmit(SERVER_FIELDS);
  const marketVersion = search.get("market_version");
  const fork = search.get("fork");
  const offered = useMemo(() => startFromSearch(marketVersion, fork), [marketVersion, fork]);
  const startFrom = useFineTune((s) => s.startFrom);
  const freeze = useFineTune((s) => s.freeze);
  // Opened by "Build a model for this data": the graph made and what was adapted.
  const fromData = (useLocation().state as { builtForData?: BuiltForData } | null)?.builtForData ?? null;
  const [adapted, setAdapted] = useState<BuiltModel | null>(null);

  // Opened from the market: start from its weights, at the smaller step pretrained weights want.
  // (Choosing a model of this project later leaves the rate alone: a template's head-only
  // recommendation, Adam at 0.01 say, must survive; StartingWeights shows a hint instead.)
  useEffect(() => {
    useFineTune.getState().start(offered);
    if (offered) setValues((v) => ({ ...v, "optimizer.lr": FINETUNE_LR }));
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
  // The chosen graph's template recommends run settings (the tabular MLP: batch 16, Adam at 0.01,
  // one-cycle; the 3-D U-Net also its augmentation, sent with the run though no field shows it):
  // pre-filled over the defaults, taken back when another graph is chosen or the user asks for the
  // plain defaults; a value the user changed since stays theirs.
  const chosenGraph = useMemo(
    (): Graph | undefined => (graphs.data?.results ?? []).find((g) => g.latest_version?.id === Number(graphVersion)),
    [graphs.data, graphVersion],
  );
  const recommendation = useMemo(() => recommendationOf(chosenGraph, offered !== null), [chosenGraph, offered]);
  // A template meant to start from another template's trained model (ct_lesion_cnn3d from unet3d).
  const startsFrom = useMemo(
    () =>
      chosenGraph?.template && chosenGraph.template_starts_from
        ? { templateName: chosenGraph.template_name ?? chosenGraph.template, template: chosenGraph.template_starts_from }
        : null,
    [chosenGraph],
  );
  // The recommendation last seen and the settings it put in the form (null: none, or the plain
  // defaults chosen); adjusted while rendering, so the form never shows a frame without them.
  const [seen, setSeen] = useState<Recommendation | null>(null);
  const [applied, setApplied] = useState<ConfigValues | null>(null);
  const chosenVersion = useMemo(
    () => datasets.data?.results.find((d) => d.latest_version?.id === Number(datasetVersion))?.latest_version ?? null,
    [datasets.data, datasetVersion],
  );
  const sampleCount = chosenVersion?.sample_count;
  const switchSettings = (next: ConfigValues | null) => {
    setValues((v) => applyRecommendation(v, applied, next, defaultsFor(sampleCount)));
    setApplied(next);
  };
  if (recommendation !== seen) {
    setSeen(recommendation);
    switchSettings(recommendation?.values ?? null);
  }
  // The task follows the chosen dataset version's (the server refuses any other); a task changed by
  // hand stays until another version is chosen. Adjusted while rendering, as the settings above.
  const [taskFrom, setTaskFrom] = useState<number | null>(null);
  if (chosenVersion && chosenVersion.id !== taskFrom) {
    setTaskFrom(chosenVersion.id);
    setValues((v) => withTask(v, chosenVersion.task));
  }

  const datasetOptions = useMemo(
    () =>
      (datasets.data?.results ?? [])
        .filter((d) => d.latest_version && isUsable(d.latest_version.status))
        .map((d) => ({ value: String(d.latest_version!.id), label: `${d.name} (v${d.latest_version!.number}, ${d.latest_version!.sample_count} samples)` })),
    [datasets.data],
  );

  // Pick the first graph and ready dataset once they load, and a batch size fitting that dataset.
  useEffect(() => {
    setGraphVersion((v) => v || (graphOptions[0] ? (search.get("graph_version") ?? graphOptions[0].value) : ""));
  }, [graphOptions, search]);
  useEffect(() => {
    const ready = (datasets.data?.results ?? []).flatMap((d) => (d.latest_version && isUsable(d.latest_version.status) ? [d.latest_version] : []));
    const first = ready.find((v) => String(v.id) === search.get("dataset_version")) ?? ready[0];
    if (datasetVersion || !first) return;
    setDatasetVersion(String(first.id));
    setValues((config) => ({ ...defaultsFor(first.sample_count), ...config }));
  }, [datasets.data, datasetVersion, search]);
  const inputCheck = useInputCheck(Number(datasetVersion) || null, Number(graphVersion) || null);
  const reloadGraphs = graphs.reload;
  const onAdapted = (built: BuiltModel) => {
    setAdapted(built);
    setGraphVersion(String(built.version.id));
    reloadGraphs();
  };

  const config = useMemo(() => withFineTune(toRunConfig(values), startFrom, freeze), [values, startFrom, freeze]);
  const body = useMemo(
    () => (graphVersion && datasetVersion ? { graph_version: Number(graphVersion), dataset_version: Number(datasetVersion), config } : null),
    [graphVersion, datasetVersion, config],
  );
  const fieldErrors = useMemo(() => configErrors(errors.fields), [errors.fields]);
  const estimate = useRunEstimate(body);

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    void submit(async () => {
      // Incomplete (no graph or dataset yet): sent anyway, so the server's message lands on the field.
      const run = await createRun(body ?? { graph_version: 0, dataset_version: 0, config });
      void navigate(`/projects/${projectId}/runs/${run.id}`);
    });
  };

  return (
    <form className="card train-form" onSubmit={onSubmit} aria-labelledby="train-heading" noValidate>
      <h2 id="train-heading">New training run</h2>
      <ErrorAlert message={errors.general ?? graphs.error?.message ?? datasets.error?.message} />
      {fromData && !adapted && <ChangeNotes projectId={projectId} built={fromData.built} heading={`Built for ${fromData.datasetName}:`} />}
      <SelectField label="Graph" value={graphVersion} onChange={(e) => setGraphVersion(e.target.value)} errors={errors.fields.graph_version}
        options={graphOptions.length ? graphOptions : [{ value: "", label: "No saved graph yet" }]} />
      <SelectField label="Dataset" value={datasetVersion} onChange={(e) => setDatasetVersion(e.target.value)} errors={errors.fields.dataset_version}
        options={datasetOptions.length ? datasetOptions : [{ value: "", label: "No ready dataset yet" }]} />
      {inputCheck.status === "ready" && !inputCheck.check.fits && (
        <InputMismatch check={inputCheck.check} datasetVersion={Number(datasetVersion)} graphVersion={Number(graphVersion)} onAdapted={onAdapted} />
      )}
      {adapted && <ChangeNotes projectId={projectId} built={adapted} heading="Adapted the input:" />}
      <StartingWeights projectId={projectId} startsFrom={startsFrom} offered={offered} graphId={graphOf.get(Number(graphVersion)) ?? null} versionId={graphVersion ? Number(graphVersion) : null} />
      {recommendation && (
        <TemplateSettingsNote recommendation={recommendation} applied={applied !== null}
          onApply={() => switchSettings(recommendation.values)} onPlain={() => switchSettings(null)} />
      )}
      <RunConfigFields values={values} errors={fieldErrors} onChange={setValues} />
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
