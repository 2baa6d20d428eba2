import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { ada, makeGraph, makeProject, page } from "../../test/fixtures";
import { type RecordedRequest, json, mockApi } from "../../test/mockApi";
import { renderApp } from "../../test/renderApp";

const digits = {
  id: 4,
  project: 1,
  name: "digits",
  description: "",
  kind: "image",
  created_at: "2025-01-01",
  updated_at: "2025-01-01",
  latest_version: { id: 9, number: 1, status: "succeeded", sample_count: 1797, skipped_total: 0, created_at: "2025-01-01" },
};

describe("TrainPage", () => {
  it("sends the form's config and shows the server's errors on the fields they name", async () => {
    const latest_version = { id: 3, number: 1, message: "", is_valid: true, created_at: "2025-01-04" };
    const api = mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/projects/1/": json(200, makeProject()),
      "GET /api/v1/graphs/": json(200, page([makeGraph({ latest_version })])),
      "GET /api/v1/datasets/": json(200, page([digits])),
      "GET /api/v1/runs/": json(200, page([])),
      "GET /api/v1/dataset-versions/9/adapt-graph/": json(200, { fits: true, graph_shape: [1, 8, 8], data_shape: [1, 8, 8], resize: null, message: "fits" }),
      "POST /api/v1/runs/estimate/": json(200, {
        config: { batch_size: 32 },
        plan: { memory: { precision: "fp32", estimated_bytes: 3 * 2 ** 30, device_bytes: 12 * 2 ** 30 } },
      }),
      "POST /api/v1/runs/": (_request: RecordedRequest) =>
        json(400, { "config.optimizer.lr": ["too large a step for this model"], "config.seed": ["seed is taken"], graph_version: ["the graph's output is [7]"] }),
    });
    const { user } = renderApp("/projects/1/train", { user: ada });

    await screen.findByRole("option", { name: /digits \(v1, 1797 samples\)/ });
    // The fields come from the RunConfig schema: its default, its range checked as typed.
    const epochs = screen.getByLabelText("Epochs");
    expect(epochs).toHaveValue(10);
    await user.clear(epochs);
    await user.type(epochs, "2{Enter}");
    const lr = screen.getByLabelText("Learning rate");
    await user.clear(lr);
    await user.type(lr, "-1{Enter}");
    expect(screen.getByText("Learning rate must be more than 0")).toBeInTheDocument();
    await user.clear(lr);
    await user.type(lr, "0.5{Enter}");
    await user.selectOptions(screen.getByLabelText("Precision"), "fp16");
    expect(screen.getByTestId("run-config-advanced")).not.toHaveAttribute("open");
    expect(await screen.findByText(/Training needs about 3.00 GiB at batch size 32 in fp32: 25% of the largest device \(12.00 GiB\)/, {}, { timeout: 3000 })).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Start training" }));

    expect(await screen.findByText("too large a step for this model")).toBeInTheDocument();
    expect(screen.getByLabelText("Learning rate")).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByText("the graph's output is [7]")).toBeInTheDocument();
    // An error on an advanced field opens the advanced settings, so it is not hidden.
    expect(screen.getByTestId("run-config-advanced")).toHaveAttribute("open");
    expect(screen.getByText("seed is taken")).toBeVisible();
    const body = api.sent("POST", "/api/v1/runs/")[0]?.body as { graph_version: number; dataset_version: number; config: Record<string, unknown> };
    expect(body.graph_version).toBe(3);
    expect(body.dataset_version).toBe(9);
    // Only what was set (and the batch fitting the dataset); the server fills in the rest.
    expect(body.config).toEqual({ epochs: 2, batch_size: 32, optimizer: { lr: 0.5 }, precision: { precision_mode: "fp16" } });
    expect(screen.queryByTestId("input-mismatch")).not.toBeInTheDocument();
  }, 15_000); // types into many fields: slow on a loaded machine

  it("shows the settings of dynamic precision only when it is chosen", async () => {
    mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/projects/1/": json(200, makeProject()),
      "GET /api/v1/graphs/": json(200, page([])),
      "GET /api/v1/datasets/": json(200, page([])),
      "GET /api/v1/runs/": json(200, page([])),
    });
    const { user } = renderApp("/projects/1/train", { user: ada });
    await user.click(await screen.findByText("Advanced settings"));
    expect(screen.queryByLabelText("Threshold")).not.toBeInTheDocument();
    expect(screen.getByRole("group", { name: "Learning-rate schedule" })).toBeInTheDocument();
    await user.selectOptions(screen.getByLabelText("Precision"), "dynamic");
    expect(screen.getByLabelText("Threshold")).toHaveValue(0.01);
  });
});

describe("TrainPage estimate", () => {
  it("shows why the server would refuse the run before it is started, and creates nothing", async () => {
    const latest_version = { id: 3, number: 1, message: "", is_valid: true, created_at: "2025-01-04" };
    const api = mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/projects/1/": json(200, makeProject()),
      "GET /api/v1/graphs/": json(200, page([makeGraph({ latest_version })])),
      "GET /api/v1/datasets/": json(200, page([digits])),
      "GET /api/v1/runs/": json(200, page([])),
      "POST /api/v1/runs/estimate/": json(400, { "config.batch_size": ["training needs about 40.00 GiB; the largest device has 16.00 GiB"] }),
    });
    renderApp("/projects/1/train", { user: ada });

    expect(await screen.findByText("batch_size: training needs about 40.00 GiB; the largest device has 16.00 GiB", {}, { timeout: 3000 })).toBeInTheDocument();
    expect(screen.getByText("Starting now would be refused:")).toBeInTheDocument();
    const asked = api.sent("POST", "/api/v1/runs/estimate/");
    expect(asked.length).toBe(1);
    expect(asked[0]?.body).toMatchObject({ graph_version: 3, dataset_version: 9, config: { batch_size: 32 } });
    expect(api.sent("POST", "/api/v1/runs/")).toHaveLength(0);
  });
});
