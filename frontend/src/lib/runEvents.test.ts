import { describe, expect, it } from "vitest";

import { epochSeries, fromLive, latestConfusion, latestProgress, mergeEvents, runFraction, stepLoss, type RunEvent } from "./runEvents";

const ev = (id: number, type: string, data: Record<string, unknown> = {}): RunEvent => ({ id, type, data: { type, ...data } });

describe("mergeEvents", () => {
  it("adds only unseen ids and keeps id order when history and live overlap", () => {
    const history = [ev(1, "run.status"), ev(2, "run.progress"), ev(3, "run.progress")];
    const live = [ev(3, "run.progress"), ev(5, "run.epoch"), ev(4, "run.progress")];
    expect(mergeEvents(history, live).map((e) => e.id)).toEqual([1, 2, 3, 4, 5]);
  });

  it("returns the same array when nothing is new, so subscribers do not re-render", () => {
    const history = [ev(1, "run.status")];
    expect(mergeEvents(history, [ev(1, "run.status")])).toBe(history);
  });

  it("fills a gap after a reconnect: live events older than the newest held are sorted in", () => {
    const held = [ev(1, "run.status"), ev(9, "run.progress")];
    expect(mergeEvents(held, [ev(5, "run.progress"), ev(7, "run.progress")]).map((e) => e.id)).toEqual([1, 5, 7, 9]);
  });
});

describe("fromLive", () => {
  it("turns a socket message into an event and skips hello/pong", () => {
    expect(fromLive({ type: "hello", run: 3 })).toBeNull();
    expect(fromLive({ type: "run.progress", id: 8, run: 3, at: "x", step: 20, loss: 1.5 })).toEqual({
      id: 8,
      type: "run.progress",
      data: { type: "run.progress", step: 20, loss: 1.5 },
    });
  });
});

describe("chart series", () => {
  const events = [
    ev(1, "run.status", { status: "running" }),
    ev(2, "run.progress", { epoch: 0, step: 20, loss: 2.0, eta_s: 30, samples_per_s: 100 }),
    ev(3, "run.progress", { epoch: 0, step: 40, loss: 1.0, eta_s: 20 }),
    ev(4, "run.epoch", { epoch: 0, step: 45, train_loss: 1.4, val: { loss: 1.2, accuracy: 0.8, confusion_matrix: [[1, 0], [0, 1]] } }),
    ev(5, "run.epoch", { epoch: 1, step: 90, train_loss: 0.6, val: { loss: 0.5, accuracy: 0.9, confusion_matrix: [[2, 0], [1, 1]] } }),
  ];

  it("loss per step from progress events", () => {
    expect(stepLoss(events)).toEqual([
      { x: 20, y: 2 },
      { x: 40, y: 1 },
    ]);
  });

  it("per-epoch curves count epochs from 1, and a repeated epoch keeps the latest values", () => {
    const series = epochSeries([...events, ev(6, "run.epoch", { epoch: 1, train_loss: 0.5, val: { loss: 0.4, accuracy: 0.95 } })]);
    expect(series.metricName).toBe("accuracy");
    expect(series.trainLoss).toEqual([
      { x: 1, y: 1.4 },
      { x: 2, y: 0.5 },
    ]);
    expect(series.metric.map((p) => p.y)).toEqual([0.8, 0.95]);
  });

  it("the latest confusion matrix and progress", () => {
    expect(latestConfusion(events)).toEqual([[2, 0], [1, 1]]);
    const progress = latestProgress(events);
    expect(progress).toMatchObject({ epoch: 1, step: 90, etaSeconds: 20, status: "running" });
  });

  it("run fraction uses the steps per epoch once the first epoch is known", () => {
    expect(runFraction(events.slice(0, 3), 4, "running")).toBe(0);
    expect(runFraction(events, 4, "running")).toBeCloseTo(0.5);
    expect(runFraction(events, 4, "succeeded")).toBe(1);
  });
});
