import { useState } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";

import { type MarketEntryDetail, type MarketVersionSummary, bundleUrl, getEntry, getMarketVersion } from "../../api/market";
import { ErrorAlert } from "../../components/ErrorAlert";
import { useResource } from "../../hooks/useResource";
import { useSession } from "../../stores/session";
import { type ForkPurpose, ForkDialog } from "./ForkDialog";
import { MarketCardView } from "./MarketCardView";
import { ReadOnlyGraph } from "./ReadOnlyGraph";
import { StarButton } from "./StarButton";
import { VersionList } from "./VersionList";
import { VisibilityForm } from "./VisibilityForm";
import "./market.css";

/** One market entry: its card, its graph (read-only), its versions, and star, download, fork and fine-tune. */
export function MarketEntryPage() {
  const { entryId = "" } = useParams();
  const entry = useResource(`entry${entryId}`, (signal) => getEntry(entryId, signal));

  if (entry.error) {
    return (
      <div className="page page--narrow page--centered">
        <h1>{entry.error.status === 404 ? "Entry not found" : "Could not load the entry"}</h1>
        {entry.error.status === 404 ? <p>It does not exist, or it is not shared with you.</p> : <ErrorAlert message={entry.error.message} />}
        <Link to="/market">Back to the market</Link>
      </div>
    );
  }
  if (!entry.data) {
    return (
      <p className="page muted" role="status">
        Loading the entry…
      </p>
    );
  }
  return <EntryDetail entry={entry.data} onChanged={entry.reload} />;
}

function EntryDetail({ entry, onChanged }: { entry: MarketEntryDetail; onChanged: () => void }) {
  const [search, setSearch] = useSearchParams();
  const username = useSession((s) => s.user?.username);
  const [dialog, setDialog] = useState<ForkPurpose | null>(null);
  const wanted = Number(search.get("version"));
  const summary: MarketVersionSummary | undefined = entry.versions.find((v) => v.number === wanted) ?? entry.versions[0];
  const version = useResource(`mv${summary?.id ?? 0}`, (signal) => (summary ? getMarketVersion(summary.id, signal) : Promise.reject(new Error("This entry has no version yet."))));
  const author = username === entry.author;
  // The version shown; a stale answer for another version is not.
  const current = version.data && version.data.id === summary?.id ? version.data : null;

  return (
    <div className="page market-entry">
      <nav className="breadcrumbs" aria-label="Breadcrumb">
        <Link to="/market">Market</Link>
      </nav>
      <div className="market-entry__title">
        <h1>{entry.title}</h1>
        <span className={`badge market-kind market-kind--${entry.kind}`}>{entry.kind}</span>
        <span className={`badge visibility visibility--${entry.visibility}`}>{entry.visibility}</span>
      </div>
      <p className="card__meta">
        by <strong>{entry.author}</strong> · {entry.stars} star{entry.stars === 1 ? "" : "s"} · {entry.forks} fork{entry.forks === 1 ? "" : "s"} · {entry.downloads} download
        {entry.downloads === 1 ? "" : "s"}
      </p>
      {summary && (
        <div className="market-entry__actions" role="group" aria-label="Entry actions">
          <StarButton entry={entry} onChanged={onChanged} />
          <a className="button" href={bundleUrl(summary.id)} download>
            Download bundle (v{summary.number})
          </a>
          <button type="button" className="button" onClick={() => setDialog("fork")}>
            Fork into project
          </button>
          {summary.has_weights && (
            <button type="button" className="button button--primary" onClick={() => setDialog("finetune")}>
              Fine-tune
            </button>
          )}
        </div>
      )}
      <ErrorAlert message={version.error?.message} />
      {current && <ReadOnlyGraph document={current.document} />}
      <div className="page__columns market-entry__columns">
        <div>
          {current && (
            <section className="card" aria-labelledby="model-card-heading">
              <h2 id="model-card-heading">Model card</h2>
              <MarketCardView entry={entry} version={current} />
            </section>
          )}
        </div>
        <aside>
          <VersionList versions={entry.versions} current={summary?.number ?? null} onPick={(number) => setSearch({ version: String(number) })} />
          {author && <VisibilityForm entry={entry} onChanged={onChanged} />}
        </aside>
      </div>
      {dialog && summary && <ForkDialog version={summary} title={entry.title} purpose={dialog} onClose={() => setDialog(null)} />}
    </div>
  );
}
