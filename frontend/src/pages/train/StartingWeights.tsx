import { memo } from "react";
import { Link } from "react-router-dom";

import { getMarketVersion } from "../../api/market";
import { useResource } from "../../hooks/useResource";
import { FreezePicker } from "./FreezePicker";
import { type StartFrom, useFineTune } from "./fineTuneStore";

function SourceName({ from }: { from: StartFrom }) {
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
  /** The weights the page was opened with (from the market); null: none offered. */
  offered: StartFrom | null;
  graphId: number | null;
  versionId: number | null;
}

/** Fine-tuning: start from the offered weights (or from scratch), and choose the layers to freeze. */
export const StartingWeights = memo(function StartingWeights({ offered, graphId, versionId }: StartingWeightsProps) {
  const startFrom = useFineTune((s) => s.startFrom);
  const start = useFineTune((s) => s.start);
  if (offered === null) return null;
  return (
    <section className="train-form__finetune" aria-label="Starting weights">
      <fieldset className="freeze-picker">
        <legend>Starting weights</legend>
        <label>
          <input type="radio" name="start-from" checked={startFrom !== null} onChange={() => start(offered)} /> Fine-tune from{" "}
          <SourceName from={offered} />
        </label>
        <br />
        <label>
          <input type="radio" name="start-from" checked={startFrom === null} onChange={() => start(null)} /> Train from scratch (random weights)
        </label>
      </fieldset>
      {startFrom !== null && graphId !== null && versionId !== null && <FreezePicker graphId={graphId} versionId={versionId} />}
    </section>
  );
});
