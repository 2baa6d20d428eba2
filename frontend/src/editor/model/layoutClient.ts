/**
 * Runs layouts in a Web Worker, one at a time: a newer request supersedes an older one, whose
 * promise then resolves to null. Where no Worker exists (tests, old browsers) it lays out here.
 */
import { type LayoutBox, type LayoutLink, type Positions, layoutBoxes } from "./layout";
import type { LayoutRequest, LayoutResponse } from "./layoutWorker";

let worker: Worker | null = null;
let latest = 0;
interface Pending {
  resolve: (positions: Positions | null) => void;
  boxes: LayoutBox[];
  links: LayoutLink[];
}
const pending = new Map<number, Pending>();

function getWorker(): Worker | null {
  if (typeof Worker === "undefined") return null;
  if (!worker) {
    worker = new Worker(new URL("./layoutWorker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (event: MessageEvent<LayoutResponse>) => {
      const waiting = pending.get(event.data.id);
      pending.delete(event.data.id);
      waiting?.resolve(event.data.id === latest ? new Map(event.data.positions) : null);
    };
    worker.onerror = () => {
      // A worker that cannot start (a blocked script) leaves the layout to the main thread.
      worker = null;
      for (const [id, waiting] of pending) waiting.resolve(id === latest ? layoutBoxes(waiting.boxes, waiting.links) : null);
      pending.clear();
    };
  }
  return worker;
}

/** Positions for `boxes`, or null when a newer layout was asked for before this one finished. */
export function layoutOffThread(boxes: LayoutBox[], links: LayoutLink[]): Promise<Positions | null> {
  const id = ++latest;
  const target = getWorker();
  if (!target) return Promise.resolve(layoutBoxes(boxes, links));
  for (const [older, waiting] of pending) {
    waiting.resolve(null);
    pending.delete(older);
  }
  return new Promise((resolve) => {
    pending.set(id, { resolve, boxes, links });
    const request: LayoutRequest = { id, boxes, links };
    target.postMessage(request);
  });
}
