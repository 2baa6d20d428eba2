import { useCallback, useEffect } from "react";

import { getRunEvents } from "../../api/runs";
import { type SocketState, useLiveSocket } from "../../hooks/useLiveSocket";
import { type LiveRunEvent, fromLive, fromStored } from "../../lib/runEvents";
import { lastEventId, useRunLive } from "../../stores/runLive";

/**
 * Fills the run store: the stored history first (so a late or reloaded page has the whole
 * chart), then the socket; after a reconnect, whatever was stored meanwhile.
 */
export function useRunFeed(runId: number, onStatus: () => void): SocketState {
  const reset = useRunLive((s) => s.reset);
  const add = useRunLive((s) => s.add);

  const catchUp = useCallback(async () => {
    const history = await getRunEvents(runId, lastEventId());
    add(runId, history.map(fromStored));
  }, [runId, add]);

  useEffect(() => {
    reset(runId);
    void catchUp().catch(() => undefined);
  }, [runId, reset, catchUp]);

  return useLiveSocket(
    `/ws/runs/${runId}/`,
    (message) => {
      const event = fromLive(message as LiveRunEvent);
      if (event === null) return;
      add(runId, [event]);
      if (event.type === "run.status") onStatus();
    },
    (reconnected) => {
      if (reconnected) {
        void catchUp().catch(() => undefined);
        onStatus();
      }
    },
  );
}
