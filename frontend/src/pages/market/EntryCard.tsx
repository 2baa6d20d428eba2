import { memo } from "react";
import { Link } from "react-router-dom";

import type { MarketEntry } from "../../api/market";
import { formatCount } from "../../editor/model/format";

/** An accuracy in 0–1 as a percentage, or a dash. */
export function percent(value: number | null | undefined): string {
  return typeof value === "number" ? `${(value * 100).toFixed(1)}%` : "—";
}

/** One entry in the market's results: what it is, how big, how good, how popular, whose. */
export const EntryCard = memo(function EntryCard({ entry }: { entry: MarketEntry }) {
  return (
    <li className="card card--link market-card" aria-label={entry.title}>
      <div className="card__title-row">
        <Link className="card__title" to={`/market/${entry.id}`}>
          {entry.title}
        </Link>
        <span className={`badge market-kind market-kind--${entry.kind}`}>{entry.kind}</span>
      </div>
      {entry.description && <p className="card__text market-card__description">{entry.description}</p>}
      <p className="card__meta">
        {[entry.task, entry.modality].filter(Boolean).join(" · ") || "No task given"}
      </p>
      <dl className="market-card__figures">
        <div>
          <dt>Params</dt>
          <dd>{formatCount(entry.latest_params)}</dd>
        </div>
        <div>
          <dt>Accuracy</dt>
          <dd>{percent(entry.latest_accuracy)}</dd>
        </div>
        <div>
          <dt>Stars</dt>
          <dd>{entry.stars}</dd>
        </div>
        <div>
          <dt>Forks</dt>
          <dd>{entry.forks}</dd>
        </div>
        <div>
          <dt>Downloads</dt>
          <dd>{entry.downloads}</dd>
        </div>
      </dl>
      <p className="card__meta">
        by <strong>{entry.author}</strong> · <span className={`visibility visibility--${entry.visibility}`}>{entry.visibility}</span>
        {entry.latest_version !== null && ` · v${entry.latest_version}`}
      </p>
    </li>
  );
});
