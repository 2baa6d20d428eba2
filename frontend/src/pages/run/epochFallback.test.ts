import { describe, expect, it } from "vitest";

import type { RunEvent } from "../../lib/runEvents";
import { unreportedEpochLoss } from "./epochFallback";

const ev = (id: number, type: string, data: Record<string, unknown>): RunEvent => ({ id, type, data });

describe("unreportedEpochLoss", () => {
  it("gives a run shorter than stats_every its epoch means at each epoch's last step", () => {
    const events = [
      ev(1, "run.status", { status: "running" }),
      ev(2, "run.epoch", { epoch: 0, step: 4, train_loss: 0.69, val: { loss: 0.7 } }),
      ev(3, "run.epoch", { epoch: 1, step: 8, train_loss: 0.41, val: { loss: 0.5 } }),
    ];
    expect(unreportedEpochLoss(events)).toEqual([
      { x: 4, y: 0.69 },
      { x: 8, y: 0.41 },
    ]);
  });

  it("leaves out the epochs a progress event reported a loss in", () => {
    const events = [
      ev(1, "run.epoch", { epoch: 0, step: 15, train_loss: 0.9 }),
      ev(2, "run.progress", { epoch: 1, step: 20, loss: 0.7 }),
      ev(3, "run.epoch", { epoch: 1, step: 30, train_loss: 0.75 }),
      ev(4, "run.progress", { epoch: 2, step: 40, samples_per_s: 50 }),
      ev(5, "run.epoch", { epoch: 2, step: 45, train_loss: 0.6 }),
    ];
    // Epoch 1 has its step loss; epoch 2's progress event carried no loss.
    expect(unreportedEpochLoss(events)).toEqual([
      { x: 15, y: 0.9 },
      { x: 45, y: 0.6 },
    ]);
  });

  it("keeps the latest report of an epoch run twice (a resumed attempt)", () => {
    const events = [
      ev(1, "run.epoch", { epoch: 0, step: 3, train_loss: 1.0 }),
      ev(2, "run.epoch", { epoch: 0, step: 3, train_loss: 0.8 }),
    ];
    expect(unreportedEpochLoss(events)).toEqual([{ x: 3, y: 0.8 }]);
  });
});
