import { screen, waitFor, within } from "@testing-library/react";
import { beforeAll, describe, expect, it } from "vitest";

import { ada, makeGraph, makeProject, page } from "../../test/fixtures";
import { layerSpecs, report } from "../../test/layers";
import { json, mockApi } from "../../test/mockApi";
import { prepareReactFlow } from "../../test/reactFlow";
import { renderApp } from "../../test/renderApp";
import { makeEntry, makeVersion, makeVersionSummary } from "./marketFixtures";

const layers = json(200, { registry_version: 1, categories: [], layers: layerSpecs });
const shapes = report({ nodes: { logits: { type: "linear", inputs: {}, outputs: { out: [1, 3] }, dtypes: {}, params: 195, flops: 384 } } });

function entryRoutes() {
  return {
    "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
    "GET /api/v1/layers/": layers,
    "POST /api/v1/graphs/validate/": json(200, shapes),
    "GET /api/v1/market/entries/7/": json(200, makeEntry()),
    "GET /api/v1/market/versions/31/": json(200, makeVersion({ id: 31, number: 2, changelog: "more epochs" })),
    "GET /api/v1/market/versions/30/": json(200, makeVersion({ id: 30, number: 1, has_weights: false })),
  };
}

describe("MarketEntryPage", () => {
  beforeAll(prepareReactFlow);

  it("shows the model card and the graph read-only, and keeps old versions available", async () => {
    const api = mockApi(entryRoutes());
    const { user } = renderApp("/market/7", { user: ada });

    expect(await screen.findByRole("heading", { name: "Digits classifier" })).toBeInTheDocument();
    const card = await screen.findByRole("region", { name: "Model card" });
    for (const text of ["CC-BY-4.0", "0, 1, 2", "image: FP32 [-1, 1, 8, 8]", "input image · scale 0.0625", "test accuracy 0.953", "measured on name digits · version 4", "2.00M (batch 1)", "v2"]) {
      expect(within(card).getByText(text)).toBeInTheDocument();
    }
    const graph = screen.getByTestId("market-graph");
    expect(await within(graph).findByLabelText("Layer logits (linear)")).toBeInTheDocument();
    expect(await within(graph).findByTestId("shape-logits-out")).toHaveTextContent("→ 1×3");
    // Read-only: no palette, no handles to connect from, nothing to save.
    expect(screen.queryByRole("complementary", { name: "Layers" })).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /Save/ })).not.toBeInTheDocument();
    expect(within(graph).getByLabelText("logits input in")).not.toHaveClass("connectable");
    expect(screen.getByRole("link", { name: "Download bundle (v2)" })).toHaveAttribute("href", "/api/v1/market/versions/31/bundle/");
    expect(screen.getByRole("button", { name: "Fine-tune" })).toBeInTheDocument();

    await user.click(within(screen.getByRole("list", { name: "Versions" })).getByRole("button", { name: "v1" }));
    expect(await screen.findByRole("link", { name: "Download bundle (v1)" })).toHaveAttribute("href", "/api/v1/market/versions/30/bundle/");
    expect(within(await screen.findByRole("region", { name: "Model card" })).getByText("none (template)")).toBeInTheDocument();
    expect(api.sent("GET", "/api/v1/market/versions/30/")).toHaveLength(1);
  });

  it("says why uploaded weights have no metrics instead of calling them a template", async () => {
    const note = "not measured here: the weights were uploaded, not trained on this installation";
    mockApi({
      ...entryRoutes(),
      "GET /api/v1/market/versions/31/": json(200, makeVersion({ id: 31, metrics: {}, metrics_dataset: {}, card: { metrics_note: note } })),
    });
    renderApp("/market/7", { user: ada });
    const card = await screen.findByRole("region", { name: "Model card" });
    expect(await within(card).findByText(`— (${note})`)).toBeInTheDocument();
    expect(within(card).queryByText(/a template has no metrics/)).not.toBeInTheDocument();
  });

  it("offers no fine-tuning for a template, which has no weights", async () => {
    mockApi({
      ...entryRoutes(),
      "GET /api/v1/market/entries/7/": json(200, makeEntry({ kind: "template", versions: [makeVersionSummary({ id: 30, has_weights: false })] })),
    });
    renderApp("/market/7", { user: ada });
    expect(await screen.findByRole("button", { name: "Fork into project" })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Fine-tune" })).not.toBeInTheDocument();
  });

  it("stars the entry and shows the new count", async () => {
    let starred = false;
    const api = mockApi({
      ...entryRoutes(),
      "GET /api/v1/market/entries/7/": () => json(200, makeEntry({ starred, stars: starred ? 3 : 2 })),
      "POST /api/v1/market/entries/7/star/": () => {
        starred = true;
        return json(200, makeEntry({ starred: true, stars: 3 }));
      },
    });
    const { user } = renderApp("/market/7", { user: ada });
    await user.click(await screen.findByRole("button", { name: "☆ Star" }));
    expect(await screen.findByRole("button", { name: "★ Unstar" })).toHaveAttribute("aria-pressed", "true");
    expect(screen.getByText(/3 stars/)).toBeInTheDocument();
    expect(api.sent("POST", "/api/v1/market/entries/7/star/")).toHaveLength(1);
  });

  it("forks into a chosen project and lands on the forked graph's canvas", async () => {
    const version = { id: 90, graph: 44, number: 1, message: "forked", author: null, parent: null, is_valid: true, is_draft: false, created_at: "2025-01-05" };
    const api = mockApi({
      ...entryRoutes(),
      "GET /api/v1/projects/": json(200, page([makeProject({ id: 1, name: "Digits", role: "viewer" }), makeProject({ id: 2, name: "Scans", role: "editor" })])),
      "POST /api/v1/market/versions/31/fork/": json(201, { id: 5, version: 31, project: 2, graph: 44, graph_version: 90, has_weights: true, weights_sha256: "", created_at: "" }),
      "GET /api/v1/graphs/44/": json(200, makeGraph({ id: 44, project: 2, name: "My digits" })),
      "GET /api/v1/graphs/44/versions/": json(200, page([version])),
      "GET /api/v1/graphs/44/versions/90/": json(200, { ...version, document: makeVersion().document, validation: null }),
    });
    const { user } = renderApp("/market/7", { user: ada });
    await user.click(await screen.findByRole("button", { name: "Fork into project" }));

    const dialog = await screen.findByRole("dialog", { name: "Fork Digits classifier v2" });
    // Only projects the user may change are offered: Scans (editor), not Digits (viewer).
    await waitFor(() => expect(within(dialog).getByLabelText("Project")).toHaveValue("2"));
    expect(within(dialog).queryByRole("option", { name: "Digits" })).not.toBeInTheDocument();
    const name = within(dialog).getByLabelText("Name of the new graph");
    await user.clear(name);
    await user.type(name, "My digits");
    await user.click(within(dialog).getByRole("button", { name: "Fork into project" }));

    expect(await screen.findByTestId("graph-editor", {}, { timeout: 5000 })).toBeInTheDocument();
    expect(api.sent("POST", "/api/v1/market/versions/31/fork/")[0]?.body).toEqual({ project: 2, name: "My digits" });
    expect(await screen.findByRole("heading", { name: "My digits" })).toBeInTheDocument();
  });

  it("says an entry that is not shared with the user does not exist", async () => {
    mockApi({ "GET /api/v1/market/entries/9/": json(404, { detail: "No MarketEntry matches the given query." }) });
    renderApp("/market/9", { user: ada });
    expect(await screen.findByRole("heading", { name: "Entry not found" })).toBeInTheDocument();
    expect(screen.getByText("It does not exist, or it is not shared with you.")).toBeInTheDocument();
  });
});
