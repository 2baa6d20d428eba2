import { useEffect } from "react";
import { Link } from "react-router-dom";

import { useRunOverlay } from "../../editor/stores/runOverlayStore";
import { nonfiniteMessage } from "../../editor/model/runOverlay";
import { useRunLive } from "../../stores/runLive";
import { useRunFeed } from "../run/useRunFeed";

const noop = () => undefined;

/**
 * Feeds the canvas overlay from a run (its stored events, then the live socket) and says above
 * the canvas which run it shows, how it is going, and where NaN/Inf first appeared.
 */
export function RunOverlayBar({ runId, projectId }: { runId: number; projectId: string }) {
  const socket = useRunFeed(runId, noop);
  useEffect(() => {
    const overlay = useRunOverlay.getState();
    overlay.reset(runId);
    const sync = (events: Parameters<typeof overlay.sync>[1]) => useRunOverlay.getState().sync(runId, events);
    sync(useRunLive.getState().events);
    const unsubscribe = useRunLive.subscribe((state) => sync(state.events));
    return () => {
      unsubscribe();
      useRunOverlay.getState().reset(null);
    };
  }, [runId]);
  const status = useRunOverlay((s) => s.status);
  const step = useRunOverlay((s) => s.step);
  const nonfinite = useRunOverlay((s) => s.nonfinite);
  const reported = useRunOverlay((s) => Object.keys(s.layers).length);

  return (
    <div className="run-overlay-bar" role="region" aria-label="Run overlay" data-testid="run-overlay">
      <span>
        Showing <Link to={`/projects/${projectId}/runs/${runId}`}>run {runId}</Link>
        {status && ` · ${status}`}
        {step !== null && ` · step ${step}`}
      </span>
      <span className={`live-dot live-dot--${socket}`} role="status" aria-label={`Live updates: ${socket}`} title={`Live updates: ${socket}`} />
      <span className="muted">
        {reported === 0 ? "No per-layer figures yet (they come every few steps)." : "Badges: the precision each layer runs in; ∇ its gradient norm against the median layer."}
      </span>
      {nonfinite && (
        <span className="run-overlay-bar__alert" role="alert">
          {nonfiniteMessage(nonfinite)}
        </span>
      )}
    </div>
  );
}
