import { useCallback, useMemo } from "react";
import { useSearchParams } from "react-router-dom";

import { listEntries } from "../../api/market";
import { EmptyState } from "../../components/EmptyState";
import { ErrorAlert } from "../../components/ErrorAlert";
import { Pagination } from "../../components/Pagination";
import { useResource } from "../../hooks/useResource";
import { EntryCard } from "./EntryCard";
import { ImportBundle } from "./ImportBundle";
import { MarketFiltersForm } from "./MarketFilters";
import { TorchvisionImport } from "./TorchvisionImport";
import { type MarketFilters, filtersFromSearch, queryFromFilters, searchFromFilters } from "./marketQuery";
import "./market.css";

/** The model market: search and filter shared models and templates, page through them, import a bundle or torchvision weights. */
export function MarketPage() {
  const [search, setSearch] = useSearchParams();
  const filters = useMemo(() => filtersFromSearch(search), [search]);
  const key = searchFromFilters(filters).toString();
  const entries = useResource(`market?${key}`, (signal) => listEntries(queryFromFilters(filters), signal));
  const apply = useCallback((next: MarketFilters) => setSearch(searchFromFilters(next)), [setSearch]);
  const count = entries.data?.count;

  return (
    <div className="page market">
      <div className="page__header">
        <h1>Model market</h1>
      </div>
      <p className="page__lead">Trained models and graph templates shared on this installation: fork one into a project, or fine-tune it on your data.</p>
      <MarketFiltersForm key={key} filters={filters} onChange={apply} />
      <div className="page__columns market__columns">
        <section aria-labelledby="results-heading">
          <h2 id="results-heading">
            {count === undefined ? "Results" : `${count} result${count === 1 ? "" : "s"}`}
          </h2>
          <ErrorAlert message={entries.error?.message} />
          {entries.loading && !entries.data && <p className="muted">Loading the market…</p>}
          {entries.data?.results.length === 0 && (
            <EmptyState
              action={
                key ? (
                  <button type="button" className="button button--secondary" onClick={() => setSearch(new URLSearchParams())}>
                    Clear the filters
                  </button>
                ) : (
                  "Publish a trained model from its page, or import a bundle on the right."
                )
              }
            >
              {key ? "Nothing in the market matches these filters." : "The market is empty."}
            </EmptyState>
          )}
          <ul className="market__grid" aria-label="Market entries" aria-busy={entries.loading}>
            {entries.data?.results.map((entry) => (
              <EntryCard key={entry.id} entry={entry} />
            ))}
          </ul>
          {entries.data && (
            <Pagination
              label="Market"
              page={filters.page}
              hasPrevious={entries.data.previous !== null}
              hasNext={entries.data.next !== null}
              onPageChange={(page) => apply({ ...filters, page })}
            />
          )}
        </section>
        <div className="market__imports">
          <ImportBundle onImported={entries.reload} />
          <TorchvisionImport />
        </div>
      </div>
    </div>
  );
}
