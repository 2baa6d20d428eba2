import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import type { ModelVariant } from "../../api/deploy";
import { ada, makeProject, page } from "../../test/fixtures";
import { json, mockApi } from "../../test/mockApi";
import { renderApp } from "../../test/renderApp";

const trained: ModelVariant = {
  id: 5, project: 1, kind: "trained", name: "LeNet-5 v1 (run 2)", run: 2, parent: null, graph_version: 3, status: "succeeded",
  config: {}, report: null, error: null, created_at: "2025-01-05", finished_at: "2025-01-05",
  card: {
    name: "LeNet-5 v1 (run 2)", task: "classification", classes: ["0", "1"], outputs: [],
    inputs: [{ name: "image", datatype: "FP32", shape: [-1, 1, 8, 8] }],
    metrics: { best: { epoch: 1, accuracy: 0.95 }, test: { accuracy: 0.9721 } },
  },
};

describe("ModelsPage", () => {
  it("lists each model with its headline metric and offers to deploy when nothing is deployed", async () => {
    mockApi({
      "GET /api/v1/projects/1/": json(200, makeProject()),
      "GET /api/v1/models/": json(200, page([trained])),
      "GET /api/v1/deployments/": json(200, page([])),
    });
    renderApp("/projects/1/models", { user: ada });

    const list = await screen.findByRole("list", { name: "Models" });
    expect(await within(list).findByText("97.21%")).toBeInTheDocument();
    expect(within(list).getByText(/test accuracy/)).toBeInTheDocument();
    expect(await screen.findByRole("link", { name: "Deploy LeNet-5 v1 (run 2)" })).toHaveAttribute("href", "/projects/1/models/5");
  });
});
