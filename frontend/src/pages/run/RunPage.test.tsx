import { screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { TrainingRun } from "../../api/runs";
import { ada, makeProject } from "../../test/fixtures";
import { json, mockApi } from "../../test/mockApi";
import { renderApp } from "../../test/renderApp";

/** A socket that never connects: the page lives on its REST history here. */
class SilentSocket {
  onopen: (() => void) | null = null;
  onmessage: (() => void) | null = null;
  onclose: (() => void) | null = null;
  close() {}
}

const line = (auc: number) => ({ fpr: [0, 0.2, 1], tpr: [0, 0.9, 1], auc });
const roc = { classes: [line(0.85), line(0.86)], micro: line(0.88) };

const run: TrainingRun = {
  id: 12,
  project: 1,
  graph: 5,
  graph_version: 40,
  dataset_version: 9,
  resumed_from: null,
  config: { epochs: 2 },
  plan: { classes: ["cat", "dog"] },
  status: "succeeded",
  cancel_requested: false,
  attempts: 1,
  worker: "",
  nodes: [],
  heartbeat_at: null,
  epoch: 1,
  step: 20,
  progress: null,
  metrics: null,
  best_metrics: null,
  precision: null,
  error: null,
  created_by: { id: 1, username: "ada" },
  has_artifact: false,
  test_metrics: { accuracy: 0.8, roc_curve: { classes: [null, null], micro: line(0.7) } },
  created_at: "2025-01-01",
  started_at: "2025-01-01",
  finished_at: "2025-01-01",
};

describe("RunPage", () => {
  beforeEach(() => vi.stubGlobal("WebSocket", SilentSocket));
  afterEach(() => vi.unstubAllGlobals());

  it("names the confusion matrix's classes and opens the run on the canvas", async () => {
    mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/projects/1/": json(200, makeProject()),
      "GET /api/v1/runs/12/": json(200, run),
      "GET /api/v1/runs/12/events/": json(200, [
        { id: 1, type: "run.epoch", created_at: "2025-01-01", data: { epoch: 0, step: 10, train_loss: 0.5, val: { loss: 0.4, accuracy: 0.9, confusion_matrix: [[5, 1], [0, 4]], roc_curve: roc } } },
      ]),
    });
    renderApp("/projects/1/runs/12", { user: ada });

    const matrix = await screen.findByRole("table", { name: /Confusion matrix/ });
    expect(within(matrix).getAllByText("cat")).toHaveLength(2);
    expect(within(matrix).getAllByText("dog")).toHaveLength(2);
    expect(screen.getByRole("link", { name: "Show on the canvas" })).toHaveAttribute("href", "/projects/1/graphs/5?run=12");
    // Validation ROC from the epoch event, test ROC from the finished run, classes named.
    const validation = screen.getByRole("img", { name: "ROC curve (validation, latest epoch)" });
    expect(validation).toHaveAttribute("data-curves", "3");
    expect(validation.querySelector('[data-curve="dog"]')).not.toBeNull();
    expect(screen.getByRole("img", { name: "ROC curve (test set, best checkpoint)" })).toHaveAttribute("data-curves", "1");
    expect(screen.getAllByText(/micro average: AUC 0\.880/)).toHaveLength(1);
  });

  it("draws a short run's loss per step from its epochs when no step reported one", async () => {
    mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/projects/1/": json(200, makeProject()),
      "GET /api/v1/runs/12/": json(200, run),
      // 4 steps an epoch, fewer than stats_every: no run.progress event carries a loss.
      "GET /api/v1/runs/12/events/": json(200, [
        { id: 1, type: "run.epoch", created_at: "2025-01-01", data: { epoch: 0, step: 4, train_loss: 0.69, val: { loss: 0.6, accuracy: 0.5 } } },
        { id: 2, type: "run.epoch", created_at: "2025-01-01", data: { epoch: 1, step: 8, train_loss: 0.41, val: { loss: 0.4, accuracy: 1 } } },
      ]),
    });
    renderApp("/projects/1/runs/12", { user: ada });

    const perStep = await screen.findByRole("img", { name: "Loss per step" });
    expect(perStep).toHaveAttribute("data-points", "2");
    expect(screen.queryByText(/Waiting for the first values/)).toBeNull();
  });
});
