import type { Point, RunEvent } from "../../lib/runEvents";

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/**
 * The mean training loss of each epoch that no `run.progress` event reported a loss in, placed at
 * the epoch's last step. The engine reports a step's loss only every `stats_every` steps (reading
 * it every step would stall the accelerator), so a short run, or an epoch shorter than that, has
 * no loss per step; its epoch mean keeps the per-step chart from staying empty. A repeated epoch
 * (a resumed attempt) keeps its latest event.
 */
export function unreportedEpochLoss(events: readonly RunEvent[]): Point[] {
  const reported = new Set<number>();
  const ends = new Map<number, Point>();
  for (const event of events) {
    const epoch = num(event.data.epoch);
    if (epoch === null) continue;
    if (event.type === "run.progress" && num(event.data.loss) !== null) reported.add(epoch);
    if (event.type === "run.epoch") {
      const step = num(event.data.step);
      const loss = num(event.data.train_loss);
      if (step !== null && loss !== null) ends.set(epoch, { x: step, y: loss });
      else ends.delete(epoch);
    }
  }
  return [...ends.entries()]
    .filter(([epoch]) => !reported.has(epoch))
    .map(([, point]) => point)
    .sort((a, b) => a.x - b.x);
}
