import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { ada, makeProject, page } from "../../test/fixtures";
import { json, mockApi } from "../../test/mockApi";
import { renderApp } from "../../test/renderApp";

const run = (id: number, status: string) => ({ id, project: 1, graph_version: 3, dataset_version: 9, config: {}, status, attempts: 1, epoch: 1, step: 20, metrics: null, created_at: "2025-01-04", started_at: null, finished_at: null });
const epoch = (id: number, e: number, train: number, val: number, accuracy: number) => ({ id, type: "run.epoch", created_at: "", data: { epoch: e, train_loss: train, val: { loss: val, accuracy } } });

describe("TrainPage run comparison", () => {
  it("overlays the loss and validation-metric curves of the ticked runs and tabulates their final values", async () => {
    const api = mockApi({
      "GET /api/v1/projects/1/": json(200, makeProject()),
      "GET /api/v1/graphs/": json(200, page([])),
      "GET /api/v1/datasets/": json(200, page([])),
      "GET /api/v1/runs/": json(200, page([run(8, "succeeded"), run(7, "succeeded"), run(6, "failed")])),
      "GET /api/v1/runs/8/events/": json(200, [epoch(1, 0, 1.2, 1.0, 0.6), epoch(2, 1, 0.5, 0.45, 0.9)]),
      "GET /api/v1/runs/7/events/": json(200, [{ id: 3, type: "run.progress", created_at: "", data: { step: 5, loss: 2 } }, epoch(4, 0, 0.9, 0.8, 0.75)]),
    });
    const { user } = renderApp("/projects/1/train", { user: ada });

    await user.click(await screen.findByLabelText("Compare run 8"));
    expect(screen.getByText("Tick two or more runs to compare them.")).toBeInTheDocument();
    expect(api.sent("GET", "/api/v1/runs/8/events/")).toHaveLength(0);
    await user.click(screen.getByLabelText("Compare run 7"));

    expect(await screen.findByRole("heading", { name: "Runs 8, 7 compared" })).toBeInTheDocument();
    const table = await screen.findByRole("table", { name: "Final metrics" });
    await within(table).findByText("0.45");
    const rows = within(table).getAllByRole("row").slice(1).map((r) => within(r).getAllByRole("cell").map((c) => c.textContent));
    expect(rows).toEqual([
      ["succeeded", "2", "0.5", "0.45", "0.9"],
      ["succeeded", "1", "0.9", "0.8", "0.75"],
    ]);
    const loss = screen.getByRole("img", { name: "Loss per epoch" });
    expect(loss).toHaveAttribute("data-points", "6");
    expect(loss.querySelectorAll("path")).toHaveLength(2);
    expect(screen.getByRole("img", { name: "Validation accuracy per epoch" })).toHaveAttribute("data-points", "3");
    expect(screen.getByText("run 7 validation", { exact: false })).toBeInTheDocument();

    await user.click(screen.getByLabelText("Compare run 8"));
    expect(screen.queryByRole("table", { name: "Final metrics" })).not.toBeInTheDocument();
  });
});
