import type { GraphDiff } from "../model/diff";
import { isEmptyDiff } from "../model/diff";

function show(value: unknown): string {
  return value === undefined ? "(default)" : JSON.stringify(value);
}

/** A diff of two documents as lists: nodes added, removed, changed (with parameters), edges. */
export function DiffView({ diff }: { diff: GraphDiff }) {
  if (isEmptyDiff(diff)) return <p className="empty-state">No differences in layers, parameters or connections.</p>;
  return (
    <div className="diff" data-testid="diff">
      {diff.addedNodes.length > 0 && (
        <section aria-label="Added layers">
          <h3>Added layers ({diff.addedNodes.length})</h3>
          <ul>
            {diff.addedNodes.map((n) => (
              <li key={n.id} className="diff__added">
                + {n.id} <span className="muted">({n.type})</span>
              </li>
            ))}
          </ul>
        </section>
      )}
      {diff.removedNodes.length > 0 && (
        <section aria-label="Removed layers">
          <h3>Removed layers ({diff.removedNodes.length})</h3>
          <ul>
            {diff.removedNodes.map((n) => (
              <li key={n.id} className="diff__removed">
                − {n.id} <span className="muted">({n.type})</span>
              </li>
            ))}
          </ul>
        </section>
      )}
      {diff.changedNodes.length > 0 && (
        <section aria-label="Changed layers">
          <h3>Changed layers ({diff.changedNodes.length})</h3>
          <ul>
            {diff.changedNodes.map((c) => (
              <li key={c.id}>
                ~ {c.id}
                {c.typeBefore !== c.typeAfter && (
                  <span>
                    : type {c.typeBefore} → {c.typeAfter}
                  </span>
                )}
                {c.labelChanged && <span> (display name)</span>}
                <ul>
                  {c.params.map((p) => (
                    <li key={p.name}>
                      {p.name}: {show(p.before)} → {show(p.after)}
                    </li>
                  ))}
                </ul>
              </li>
            ))}
          </ul>
        </section>
      )}
      {(diff.addedEdges.length > 0 || diff.removedEdges.length > 0) && (
        <section aria-label="Connections">
          <h3>Connections</h3>
          <ul>
            {diff.addedEdges.map((e) => (
              <li key={`+${e.source}${e.source_port}${e.target}${e.target_port}`} className="diff__added">
                + {e.source}.{e.source_port} → {e.target}.{e.target_port}
              </li>
            ))}
            {diff.removedEdges.map((e) => (
              <li key={`-${e.source}${e.source_port}${e.target}${e.target_port}`} className="diff__removed">
                − {e.source}.{e.source_port} → {e.target}.{e.target_port}
              </li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}
