import { memo, useId, useMemo, useState } from "react";
import { Link } from "react-router-dom";

import { listModels } from "../../api/deploy";
import { getMarketVersion } from "../../api/market";
import { ErrorAlert } from "../../components/ErrorAlert";
import { SelectField } from "../../components/FormField";
import { useResource } from "../../hooks/useResource";
import { FreezePicker } from "./FreezePicker";
import { FINETUNE_LR, type OfferedWeights, modelLabel, startableModels, useFineTune } from "./fineTuneStore";

const LR_HINT =
  `Pretrained weights usually want a smaller learning rate (e.g. ${FINETUNE_LR}) when every layer trains; ` +
  "a new head with the rest frozen can take a larger one.";

function SourceName({ from }: { from: OfferedWeights }) {
  const versionId = "market_version" in from ? from.market_version : null;
  const version = useResource(`start-mv${versionId ?? 0}`, (signal) => (versionId ? getMarketVersion(versionId, signal) : Promise.resolve(null)));
  if (!("market_version" in from)) return <>the weights recorded with fork {from.fork}</>;
  const title = typeof version.data?.card.title === "string" ? version.data.card.title : `market version ${from.market_version}`;
  return (
    <>
      the published weights of{" "}
      {version.data ? (
        <Link to={`/market/${version.data.entry}?version=${version.data.number}`}>
          {title} v{version.data.number}
        </Link>
      ) : (
        title
      )}
    </>
  );
}

interface StartingWeightsProps {
  projectId: string;
  /**
   * The chosen graph's template is meant to start from another template's trained model
   * (`ct_lesion_cnn3d` from a `unet3d` one): its name and that template's id, or null.
   */
  startsFrom: { templateName: string; template: string } | null;
  /** The weights the page was opened with (from the market); null: none offered. */
  offered: OfferedWeights | null;
  graphId: number | null;
  versionId: number | null;
}

/**
 * Fine-tuning: start from scratch, from the offered weights, or from a ready model of this project,
 * and choose the layers to freeze. The learning rate is left as the form has it (a template's
 * head-only recommendation must survive); a hint says what pretrained weights usually want.
 */
export const StartingWeights = memo(function StartingWeights({ projectId, startsFrom, offered, graphId, versionId }: StartingWeightsProps) {
  const startFrom = useFineTune((s) => s.startFrom);
  const start = useFineTune((s) => s.start);
  const models = useResource(`start-models${projectId}`, (signal) => listModels(projectId, signal));
  const ready = useMemo(() => startableModels(models.data?.results ?? []), [models.data]);
  const fromModel = startFrom !== null && "model" in startFrom ? startFrom.model : null;
  // The model the select shows while another choice is made: the last one picked, or the first.
  const [picked, setPicked] = useState<number | null>(null);
  const shownModel = fromModel ?? (ready.some((m) => m.id === picked) ? picked : (ready[0]?.id ?? null));
  const noteId = useId();
  const pickModel = (id: number) => {
    setPicked(id);
    start({ model: id });
  };

  return (
    <section className="train-form__finetune" aria-label="Starting weights">
      <fieldset className="freeze-picker">
        <legend>Starting weights</legend>
        {startsFrom && startFrom === null && (
          <p className="alert alert--info" role="note" data-testid="starts-from-advice">
            The {startsFrom.templateName} template is meant to start from a trained <code>{startsFrom.template}</code> model of this
            project, where its layers learn what to look for: choose it under “Fine-tune from a model of this project”, then “Freeze
            all but the head”. From scratch it learns from the labels alone.
          </p>
        )}
        <label>
          <input type="radio" name="start-from" checked={startFrom === null} onChange={() => start(null)} /> Train from scratch (random weights)
        </label>
        {offered !== null && (
          <>
            <br />
            <label>
              <input type="radio" name="start-from" checked={startFrom !== null && fromModel === null} onChange={() => start(offered)} /> Fine-tune
              from <SourceName from={offered} />
            </label>
          </>
        )}
        <br />
        <label>
          <input
            type="radio"
            name="start-from"
            checked={fromModel !== null}
            disabled={shownModel === null}
            aria-describedby={ready.length === 0 ? noteId : undefined}
            onChange={() => shownModel !== null && pickModel(shownModel)}
          />{" "}
          Fine-tune from a model of this project
        </label>
        <div className="starting-weights__model">
          <ErrorAlert message={models.error ? `Could not list the project's models: ${models.error.message}` : undefined} />
          {models.loading && !models.data && <p className="muted">Reading the project’s models…</p>}
          {models.data && ready.length === 0 && (
            <p id={noteId} className="muted">
              None yet: a model appears here once a training run has succeeded.
            </p>
          )}
          {ready.length > 0 && (
            <SelectField label="Model to start from" value={String(shownModel ?? "")} onChange={(e) => pickModel(Number(e.target.value))}
              options={ready.map((m) => ({ value: String(m.id), label: modelLabel(m) }))} />
          )}
          {fromModel !== null && (
            <p className="field__hint" data-testid="finetune-lr-hint">
              {LR_HINT}
            </p>
          )}
        </div>
      </fieldset>
      {startFrom !== null && graphId !== null && versionId !== null && <FreezePicker graphId={graphId} versionId={versionId} />}
    </section>
  );
});
