import { create } from "zustand";

import type { RunEvent } from "../../lib/runEvents";
import { EMPTY_OVERLAY, type RunOverlayState, foldEvents } from "../model/runOverlay";

interface RunOverlayStore extends RunOverlayState {
  /** The run whose figures decorate the canvas; null: no overlay. */
  runId: number | null;
  /** How many events have been folded in. */
  folded: number;
  /** Starts over for a run (null: no overlay). */
  reset: (runId: number | null) => void;
  /**
   * Takes the run's whole event list in id order (as the run feed holds it) and folds in only the
   * new tail; when an event landed before the last folded one (a late history page), replays all.
   */
  sync: (runId: number, events: readonly RunEvent[]) => void;
}

/** Per-layer run figures for the canvas, kept apart from the graph so an event re-renders only the nodes it changes. */
export const useRunOverlay = create<RunOverlayStore>()((set, get) => ({
  runId: null,
  folded: 0,
  ...EMPTY_OVERLAY,
  reset: (runId) => set({ runId, folded: 0, ...EMPTY_OVERLAY }),
  sync: (runId, events) => {
    const state = get();
    if (state.runId !== runId) return;
    const start = events.findIndex((event) => event.id > state.lastEventId);
    const tail = start === -1 ? events.length : start;
    if (tail === events.length && tail === state.folded) return;
    const inOrder = tail === state.folded;
    const next = inOrder ? foldEvents(state, events.slice(tail)) : foldEvents(EMPTY_OVERLAY, events);
    set({ layers: next.layers, nonfinite: next.nonfinite, status: next.status, step: next.step, lastEventId: next.lastEventId, folded: events.length });
  },
}));
