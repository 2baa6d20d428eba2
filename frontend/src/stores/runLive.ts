import { create } from "zustand";

import { type RunEvent, mergeEvents } from "../lib/runEvents";

interface RunLiveState {
  runId: number | null;
  events: readonly RunEvent[];
  /** Starts over for another run (the dashboard mounts for one run at a time). */
  reset: (runId: number) => void;
  /** Adds events from the REST history or the socket; duplicates (by id) are ignored. */
  add: (runId: number, events: readonly RunEvent[]) => void;
}

/** The events of the run on screen: history first, then live, merged by id. */
export const useRunLive = create<RunLiveState>()((set) => ({
  runId: null,
  events: [],
  reset: (runId) => set({ runId, events: [] }),
  add: (runId, incoming) =>
    set((state) => {
      if (state.runId !== runId) return state;
      const events = mergeEvents(state.events, incoming);
      return events === state.events ? state : { events };
    }),
}));

/** The id of the newest event held, to ask the REST history only for what came after it. */
export function lastEventId(): number {
  const { events } = useRunLive.getState();
  return events.length > 0 ? events[events.length - 1]!.id : 0;
}
