import { memo } from "react";

import type { MarketVersionSummary } from "../../api/market";
import { formatCount } from "../../editor/model/format";
import { formatDate } from "../../lib/format";

interface VersionListProps {
  /** Newest first. */
  versions: readonly MarketVersionSummary[];
  current: number | null;
  onPick: (number: number) => void;
}

/** Every published version; older ones stay available to view, download, fork and fine-tune. */
export const VersionList = memo(function VersionList({ versions, current, onPick }: VersionListProps) {
  return (
    <section className="card" aria-labelledby="versions-heading">
      <h2 id="versions-heading">Versions</h2>
      <ul className="market-versions" aria-label="Versions">
        {versions.map((version) => (
          <li key={version.id} aria-current={version.number === current}>
            <button type="button" className="link-button" onClick={() => onPick(version.number)} disabled={version.number === current}>
              v{version.number}
            </button>{" "}
            · {formatDate(version.created_at)} · {formatCount(version.params)} params{version.has_weights ? " · weights" : ""}
            {version.changelog && <div className="muted">{version.changelog}</div>}
          </li>
        ))}
      </ul>
    </section>
  );
});
