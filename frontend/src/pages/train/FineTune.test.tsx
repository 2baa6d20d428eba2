import { screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import type { ModelVariant } from "../../api/deploy";
import { ada, makeGraph, makeProject, page } from "../../test/fixtures";
import { report } from "../../test/layers";
import { json, mockApi } from "../../test/mockApi";
import { renderApp } from "../../test/renderApp";
import { makeVersion } from "../market/marketFixtures";
import { modelLabel, startableModels, withFineTune } from "./fineTuneStore";

const digits = {
  id: 4, project: 1, name: "digits", description: "", kind: "image", created_at: "2025-01-01", updated_at: "2025-01-01",
  latest_version: { id: 9, number: 1, status: "succeeded", sample_count: 1797, skipped_total: 0, created_at: "2025-01-01" },
};
const node = (type: string, params: number) => ({ type, inputs: {}, outputs: {}, dtypes: {}, params, flops: 0 });
const layers = report({
  topological_order: ["image", "a", "a_relu", "b", "flat", "logits"],
  nodes: { image: node("image_input", 0), a: node("conv2d", 120), a_relu: node("relu", 0), b: node("conv2d", 2_320), flat: node("flatten", 0), logits: node("linear", 650) },
});

describe("TrainForm fine-tuning", () => {
  it("starts from the market version, freezes all but the head, and sends both in the run config", async () => {
    const latest_version = { id: 3, number: 1, message: "forked", is_valid: true, created_at: "2025-01-04" };
    const api = mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/projects/1/": json(200, makeProject()),
      "GET /api/v1/graphs/": json(200, page([makeGraph({ id: 10, name: "Digits fork", latest_version })])),
      "GET /api/v1/graphs/10/versions/3/": json(200, { ...latest_version, graph: 10, author: null, parent: null, is_draft: false, document: makeVersion().document, validation: null }),
      "POST /api/v1/graphs/validate/": json(200, layers),
      "GET /api/v1/market/versions/31/": json(200, makeVersion({ id: 31, entry: 7, number: 2 })),
      "GET /api/v1/datasets/": json(200, page([digits])),
      "GET /api/v1/models/": json(200, page([])),
      "GET /api/v1/runs/": json(200, page([])),
      "POST /api/v1/runs/estimate/": json(200, { config: {}, plan: {} }),
      "POST /api/v1/runs/": json(202, { id: 77, project: 1, status: "queued", config: {} }),
      "GET /api/v1/runs/77/": json(200, { id: 77, project: 1, graph: 10, graph_version: 3, dataset_version: 9, status: "queued", config: {}, attempts: 0, epoch: null, step: null, metrics: null, created_at: "", started_at: null, finished_at: null }),
      "GET /api/v1/runs/77/events/": json(200, []),
    });
    const { user } = renderApp("/projects/1/train?graph_version=3&market_version=31", { user: ada });

    const weights = await screen.findByRole("region", { name: "Starting weights" });
    expect(await within(weights).findByRole("link", { name: "Digits classifier v2" })).toHaveAttribute("href", "/market/7?version=2");
    expect(screen.getByLabelText("Learning rate")).toHaveValue(0.0001);
    const list = await screen.findByRole("list", { name: "Layers with weights" });
    // Only the layers that hold weights, in the order data flows through them.
    expect(within(list).getAllByRole("checkbox").map((box) => box.getAttribute("aria-label"))).toEqual(["Freeze a", "Freeze b", "Freeze logits"]);

    await user.click(screen.getByRole("button", { name: "Freeze all but the head" }));
    expect(screen.getByText("2 of 3 frozen")).toBeInTheDocument();
    await user.click(screen.getByRole("checkbox", { name: "Freeze a" }));
    await user.click(screen.getByRole("checkbox", { name: "Freeze a" }));
    expect(screen.getByRole("checkbox", { name: "Freeze logits" })).not.toBeChecked();
    await user.click(screen.getByRole("button", { name: "Start training" }));

    await waitFor(() => expect(api.sent("POST", "/api/v1/runs/")).toHaveLength(1));
    const body = api.sent("POST", "/api/v1/runs/")[0]?.body as { graph_version: number; config: Record<string, unknown> };
    expect(body.graph_version).toBe(3);
    expect(body.config).toMatchObject({ init_weights: { market_version: 31 }, freeze: ["a", "b"], optimizer: { lr: 0.0001 } });
  });

  it("trains from scratch when asked, sending no starting weights and no frozen layers", async () => {
    const latest_version = { id: 3, number: 1, message: "", is_valid: true, created_at: "2025-01-04" };
    const api = mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/projects/1/": json(200, makeProject()),
      "GET /api/v1/graphs/": json(200, page([makeGraph({ id: 10, latest_version })])),
      "GET /api/v1/graphs/10/versions/3/": json(200, { ...latest_version, graph: 10, author: null, parent: null, is_draft: false, document: makeVersion().document, validation: null }),
      "POST /api/v1/graphs/validate/": json(200, layers),
      "GET /api/v1/runs/": json(200, page([])),
      "GET /api/v1/datasets/": json(200, page([digits])),
      "GET /api/v1/models/": json(200, page([])),
      "GET /api/v1/market/versions/31/": json(200, makeVersion({ id: 31 })),
      "POST /api/v1/runs/estimate/": json(200, { config: {}, plan: {} }),
      "POST /api/v1/runs/": json(400, { detail: "stop here" }),
    });
    const { user } = renderApp("/projects/1/train?graph_version=3&market_version=31", { user: ada });
    await user.click(await screen.findByRole("button", { name: "Freeze all but the head" }));
    await user.click(screen.getByRole("radio", { name: /Train from scratch/ }));
    expect(screen.queryByRole("list", { name: "Layers with weights" })).not.toBeInTheDocument();
    expect(screen.queryByTestId("starts-from-advice")).not.toBeInTheDocument(); // a graph from no template
    await user.click(screen.getByRole("button", { name: "Start training" }));
    expect(await screen.findByText("stop here")).toBeInTheDocument();
    const config = (api.sent("POST", "/api/v1/runs/")[0]?.body as { config: Record<string, unknown> }).config;
    expect(config).not.toHaveProperty("init_weights");
    expect(config).not.toHaveProperty("freeze");
  });
});

function makeModel(overrides: Partial<ModelVariant> = {}): ModelVariant {
  return {
    id: 12, project: 1, kind: "trained", name: "lesions U-Net", run: 40, parent: null, graph_version: 2, config: {}, status: "succeeded",
    card: null, report: null, error: null, created_at: "2025-01-05T10:00:00Z", finished_at: "2025-01-05T11:00:00Z",
    ...overrides,
  };
}

const models = [
  makeModel({ id: 12, name: "lesions U-Net", kind: "trained" }),
  makeModel({ id: 13, name: "lesions U-Net (pruned 50%)", kind: "pruned", parent: 12 }),
  makeModel({ id: 14, name: "lesions U-Net (int8)", kind: "quantized", parent: 12 }),
  makeModel({ id: 15, name: "still pruning", kind: "pruned", status: "running", parent: 12 }),
  makeModel({ id: 16, name: "broken", kind: "trained", status: "failed" }),
  makeModel({ id: 17, name: "queued", kind: "trained", status: "queued" }),
];

describe("starting from a model of this project", () => {
  it("offers only finished trained or pruned models (a quantized one cannot start a run)", () => {
    expect(startableModels(models).map(modelLabel)).toEqual(["#12 · lesions U-Net (trained)", "#13 · lesions U-Net (pruned 50%) (pruned)"]);
  });

  it("sends the model as init_weights, with the freeze list only when one is chosen", () => {
    expect(withFineTune({ epochs: 2 }, { model: 12 }, [])).toEqual({ epochs: 2, init_weights: { model: 12 } });
    expect(withFineTune({ epochs: 2 }, { model: 12 }, ["a", "b"])).toEqual({ epochs: 2, init_weights: { model: 12 }, freeze: ["a", "b"] });
    expect(withFineTune({ epochs: 2 }, null, ["a"])).toEqual({ epochs: 2 });
  });
});

describe("TrainForm starting from a model of this project", () => {
  const latest_version = { id: 3, number: 1, message: "", is_valid: true, created_at: "2025-01-04" };
  // A template recommending Adam at 0.01 for its head-only second run: the rate must survive.
  const graph = makeGraph({
    id: 10, name: "CT lesions", latest_version, template: "ct_lesion_cnn3d", template_name: "CT lesion classifier (3D CNN)",
    recommended_config: { optimizer: { name: "adam", lr: 0.01 } }, template_starts_from: "unet3d",
  });
  const routes = (projectModels: ModelVariant[]) => ({
    "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
    "GET /api/v1/projects/1/": json(200, makeProject()),
    "GET /api/v1/graphs/": json(200, page([graph])),
    "GET /api/v1/graphs/10/versions/3/": json(200, { ...latest_version, graph: 10, author: null, parent: null, is_draft: false, document: makeVersion().document, validation: null }),
    "POST /api/v1/graphs/validate/": json(200, layers),
    "GET /api/v1/datasets/": json(200, page([digits])),
    "GET /api/v1/models/": json(200, page(projectModels)),
    "GET /api/v1/runs/": json(200, page([])),
    "POST /api/v1/runs/estimate/": json(200, { config: {}, plan: {} }),
    "POST /api/v1/runs/": json(400, { detail: "stop here" }),
  });
  const sentConfig = (api: ReturnType<typeof mockApi>) => (api.sent("POST", "/api/v1/runs/")[0]?.body as { config: Record<string, unknown> }).config;

  it("starts from the chosen model, freezing all but the head, and keeps the form's learning rate", async () => {
    const api = mockApi(routes(models));
    const { user } = renderApp("/projects/1/train?graph_version=3", { user: ada });

    const weights = await screen.findByRole("region", { name: "Starting weights" });
    const select = await within(weights).findByRole("combobox", { name: "Model to start from" });
    expect(within(select).getAllByRole("option").map((o) => o.textContent)).toEqual(["#12 · lesions U-Net (trained)", "#13 · lesions U-Net (pruned 50%) (pruned)"]);
    // Nothing offered from the market: from scratch until a model is chosen, and no layers to freeze.
    expect(within(weights).getByRole("radio", { name: "Train from scratch (random weights)" })).toBeChecked();
    expect(within(weights).queryByRole("list", { name: "Layers with weights" })).not.toBeInTheDocument();
    await waitFor(() => expect(screen.getByLabelText("Learning rate")).toHaveValue(0.01));
    // The template is meant to start from a unet3d model: said while it would train from scratch.
    expect(within(weights).getByTestId("starts-from-advice")).toHaveTextContent(
      "The CT lesion classifier (3D CNN) template is meant to start from a trained unet3d model of this project",
    );

    await user.click(within(weights).getByRole("radio", { name: "Fine-tune from a model of this project" }));
    expect(within(weights).queryByTestId("starts-from-advice")).not.toBeInTheDocument();
    expect(screen.getByLabelText("Learning rate")).toHaveValue(0.01);
    expect(within(weights).getByText(/^Pretrained weights usually want a smaller learning rate \(e\.g\. 0\.0001\) when every layer trains;/)).toBeInTheDocument();
    await user.selectOptions(select, "13");
    expect(within(weights).getByRole("radio", { name: "Fine-tune from a model of this project" })).toBeChecked();
    await user.click(await screen.findByRole("button", { name: "Freeze all but the head" }));
    expect(screen.getByText("2 of 3 frozen")).toBeInTheDocument();
    expect(screen.getByLabelText("Learning rate")).toHaveValue(0.01);
    await user.click(screen.getByRole("button", { name: "Start training" }));

    expect(await screen.findByText("stop here")).toBeInTheDocument();
    expect(sentConfig(api)).toMatchObject({ init_weights: { model: 13 }, freeze: ["a", "b"], optimizer: { name: "adam", lr: 0.01 } });
  });

  it("sends no starting weights when the user goes back to training from scratch", async () => {
    const api = mockApi(routes(models));
    const { user } = renderApp("/projects/1/train?graph_version=3", { user: ada });
    await user.selectOptions(await screen.findByRole("combobox", { name: "Model to start from" }), "12");
    await user.click(await screen.findByRole("button", { name: "Freeze all but the head" }));
    await user.click(screen.getByRole("radio", { name: "Train from scratch (random weights)" }));
    expect(screen.queryByText(/^Pretrained weights usually want/)).not.toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Start training" }));
    expect(await screen.findByText("stop here")).toBeInTheDocument();
    expect(sentConfig(api)).not.toHaveProperty("init_weights");
    expect(sentConfig(api)).not.toHaveProperty("freeze");
  });

  it("says why the choice is off while the project has no model a run can start from", async () => {
    const api = mockApi(routes(models.filter((m) => m.id >= 14)));
    const { user } = renderApp("/projects/1/train?graph_version=3", { user: ada });
    const note = await screen.findByText("None yet: a model appears here once a training run has succeeded.");
    const radio = screen.getByRole("radio", { name: "Fine-tune from a model of this project" });
    expect(radio).toBeDisabled();
    expect(radio).toHaveAccessibleDescription(note.textContent ?? "");
    expect(screen.queryByRole("combobox", { name: "Model to start from" })).not.toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Start training" }));
    expect(await screen.findByText("stop here")).toBeInTheDocument();
    expect(sentConfig(api)).not.toHaveProperty("init_weights");
  });
});
