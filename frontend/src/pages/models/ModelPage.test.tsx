import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import type { ModelCard, ModelExport, ModelVariant } from "../../api/deploy";
import { ada, makeProject, page } from "../../test/fixtures";
import { json, mockApi } from "../../test/mockApi";
import { renderApp } from "../../test/renderApp";

const card: ModelCard = {
  name: "lenet-pruned",
  task: "classification",
  classes: ["0", "1", "2"],
  inputs: [{ name: "image", datatype: "FP32", shape: [-1, 1, 8, 8], preprocessing: { input: "image", mode: "L" } }],
  outputs: [],
  metrics: { val: { accuracy: 0.938 } },
  dataset: { name: "digits", version: 9 },
  training_config: { epochs: 2, optimizer: { name: "adam", lr: 0.001 } },
};

const pruned: ModelVariant = {
  id: 7, project: 1, kind: "pruned", name: "lenet-pruned", run: 2, parent: 5, graph_version: 42, status: "succeeded",
  config: {}, card, report: null, error: null, created_at: "2025-01-05", finished_at: "2025-01-05",
};

const onnx: ModelExport = {
  id: 30, model: 7, format: "onnx", status: "succeeded", error: null, download: "/api/v1/exports/30/download/",
  created_at: "2025-01-05", finished_at: "2025-01-05",
  verification: { passed: true, max_abs_diff: 3e-7, tolerance: 1e-4, samples: 64, samples_source: "dataset" },
};

function routes() {
  return {
    "GET /api/v1/projects/1/": json(200, makeProject()),
    "GET /api/v1/models/7/": json(200, pruned),
    "GET /api/v1/runs/2/": json(200, { id: 2, project: 1, graph: 10, graph_version: 3, status: "succeeded" }),
    "GET /api/v1/deployments/": json(200, page([])),
    "GET /api/v1/exports/": json(200, page([onnx])),
  };
}

describe("ModelPage", () => {
  it("shows each export's parity check with its model card in a collapsible section", async () => {
    mockApi(routes());
    renderApp("/projects/1/models/7", { user: ada });

    const exports = await screen.findByRole("table", { name: "Exports" });
    const row = (await within(exports).findByText("onnx")).closest("tr")!;
    expect(within(row).getByText("passed: max |Δ| 3.00e-7 ≤ 0.0001 on 64 samples (dataset)")).toBeInTheDocument();
    const details = within(row).getByText("Model card (onnx)").closest("details")!;
    expect(details).not.toHaveAttribute("open");
    expect(within(details).getByText("classification")).toBeInTheDocument();
    expect(within(details).getByText("image: FP32 [-1, 1, 8, 8]")).toBeInTheDocument();
    expect(within(details).getByTestId("headline-metric")).toHaveTextContent("93.80%validation accuracy");
    expect(within(details).getByText("digits (dataset version 9)")).toBeInTheDocument();
  });

  it("names the project and the model in its breadcrumbs", async () => {
    mockApi(routes());
    renderApp("/projects/1/models/7", { user: ada });

    const crumbs = screen.getByRole("navigation", { name: "Breadcrumb" });
    expect(await within(crumbs).findByRole("link", { name: "Digits" })).toHaveAttribute("href", "/projects/1");
    expect(within(crumbs).getByRole("link", { name: "Models & deployments" })).toHaveAttribute("href", "/projects/1/models");
    expect(await within(crumbs).findByText("lenet-pruned")).toHaveAttribute("aria-current", "page");
  });

  it("links a pruned model to its new graph version on the canvas", async () => {
    mockApi(routes());
    renderApp("/projects/1/models/7", { user: ada });

    const link = await screen.findByRole("link", { name: "Open the pruned graph on the canvas" });
    expect(link).toHaveAttribute("href", "/projects/1/graphs/10?version=42");
  });

  it("links a pruned model to the fine-tuning run its pruning started", async () => {
    mockApi({ ...routes(), "GET /api/v1/models/7/": json(200, { ...pruned, report: { finetune_run: 12 } }) });
    renderApp("/projects/1/models/7", { user: ada });

    const link = await screen.findByRole("link", { name: "Follow the fine-tuning run" });
    expect(link).toHaveAttribute("href", "/projects/1/runs/12");
  });

  it("sends the fine-tune epochs with the prune settings and shows a rejected value at its field", async () => {
    const api = mockApi({
      ...routes(),
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "POST /api/v1/models/7/prune/": json(400, { "config.finetune_epochs": ["Input should be less than or equal to 1000"] }),
    });
    renderApp("/projects/1/models/7", { user: ada });

    const form = await screen.findByRole("form", { name: "Prune" });
    const epochs = within(form).getByLabelText("Fine-tune epochs");
    await userEvent.clear(epochs);
    await userEvent.type(epochs, "5000");
    await userEvent.click(within(form).getByRole("button", { name: "Prune" }));

    expect(await within(form).findByText("Input should be less than or equal to 1000")).toBeInTheDocument();
    const sent = api.requests.find((r) => r.method === "POST" && r.path === "/api/v1/models/7/prune/");
    expect(sent?.body).toEqual({ config: { method: "l2", scope: "uniform", ratio: 0.3, finetune_epochs: 5000 } });
  });
});
