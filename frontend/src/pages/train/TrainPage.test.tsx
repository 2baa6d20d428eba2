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
  latest_version: { id: 9, number: 1, status: "ready", sample_count: 1797, skipped_total: 0, created_at: "2025-01-01" },
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
      "POST /api/v1/runs/": (_request: RecordedRequest) =>
        json(400, { "config.optimizer.lr": ["Input should be greater than 0"], graph_version: ["the graph's output is [7]"] }),
    });
    const { user } = renderApp("/projects/1/train", { user: ada });

    await screen.findByRole("option", { name: /digits \(v1, 1797 samples\)/ });
    const epochs = screen.getByLabelText("Epochs");
    await user.clear(epochs);
    await user.type(epochs, "2");
    const lr = screen.getByLabelText("Learning rate");
    await user.clear(lr);
    await user.type(lr, "-1");
    await user.click(screen.getByRole("button", { name: "Start training" }));

    expect(await screen.findByText("Input should be greater than 0")).toBeInTheDocument();
    expect(screen.getByLabelText("Learning rate")).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByText("the graph's output is [7]")).toBeInTheDocument();
    const body = api.sent("POST", "/api/v1/runs/")[0]?.body as { graph_version: number; dataset_version: number; config: Record<string, unknown> };
    expect(body.graph_version).toBe(3);
    expect(body.dataset_version).toBe(9);
    expect(body.config).toMatchObject({ epochs: 2, batch_size: 32, optimizer: { name: "adam", lr: -1 }, precision: { precision_mode: "fp32" } });
  });
});
