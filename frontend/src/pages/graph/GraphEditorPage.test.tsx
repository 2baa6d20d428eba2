import { screen } from "@testing-library/react";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { useRunOverlay } from "../../editor/stores/runOverlayStore";
import { ada, makeGraph, makeProject, page } from "../../test/fixtures";
import { layerSpecs, report } from "../../test/layers";
import { json, mockApi } from "../../test/mockApi";
import { prepareReactFlow } from "../../test/reactFlow";
import { renderApp } from "../../test/renderApp";

class SilentSocket {
  onopen: (() => void) | null = null;
  onmessage: (() => void) | null = null;
  onclose: (() => void) | null = null;
  close() {}
}

const trained = {
  schema_version: 1,
  nodes: [
    { id: "conv_a", type: "conv2d", params: {}, position: { x: 0, y: 0 } },
    { id: "conv_b", type: "conv2d", params: {}, position: { x: 300, y: 0 } },
  ],
  edges: [],
};
const version = (id: number, number: number) => ({ id, graph: 5, number, message: "", author: null, parent: null, is_valid: true, is_draft: false, created_at: "2025-01-01" });

describe("GraphEditorPage with ?run=", () => {
  beforeAll(prepareReactFlow);
  beforeEach(() => {
    vi.stubGlobal("WebSocket", SilentSocket);
    localStorage.clear();
  });
  afterEach(() => vi.unstubAllGlobals());

  it("opens the version the run trained and decorates its layers from the run's events", async () => {
    const api = mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/layers/": json(200, { registry_version: 1, categories: [], layers: layerSpecs }),
      "GET /api/v1/graphs/5/": json(200, makeGraph({ id: 5 })),
      "GET /api/v1/graphs/5/versions/": json(200, page([version(41, 2), version(40, 1)])),
      "GET /api/v1/graphs/5/versions/40/": json(200, { ...version(40, 1), document: trained, validation: null }),
      "POST /api/v1/graphs/validate/": json(200, report()),
      "GET /api/v1/projects/1/": json(200, makeProject()),
      "GET /api/v1/runs/12/": json(200, { id: 12, project: 1, graph: 5, graph_version: 40, status: "running", config: {} }),
      "GET /api/v1/runs/12/events/": json(200, [
        { id: 1, type: "run.status", created_at: "", data: { status: "running" } },
        { id: 2, type: "run.progress", created_at: "", data: { step: 20, gradients: { conv_a: 1, conv_b: 5000 }, precision: { conv_a: "fp16", conv_b: "fp32" } } },
        { id: 3, type: "run.nonfinite", created_at: "", data: { step: 30, layer: "conv_b" } },
      ]),
    });
    renderApp("/projects/1/graphs/5?run=12", { user: ada });

    expect(await screen.findByText("NaN/Inf first appeared in layer conv_b at step 30.", {}, { timeout: 3000 })).toBeInTheDocument();
    expect(await screen.findByTestId("precision-conv_a")).toHaveTextContent("fp16");
    expect(screen.getByTestId("precision-conv_b")).toHaveTextContent("fp32");
    expect(screen.getByTestId("node-conv_b")).toHaveClass("layer-node--nonfinite");
    expect(screen.getByRole("link", { name: "run 12" })).toHaveAttribute("href", "/projects/1/runs/12");
    expect(api.sent("GET", "/api/v1/graphs/5/versions/41/")).toHaveLength(0);
    expect(useRunOverlay.getState().runId).toBe(12);
  });

  it("with ?version= opens that saved version (a pruned model's) instead of the newest", async () => {
    const api = mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/layers/": json(200, { registry_version: 1, categories: [], layers: layerSpecs }),
      "GET /api/v1/graphs/5/": json(200, makeGraph({ id: 5 })),
      "GET /api/v1/graphs/5/versions/": json(200, page([version(42, 3), version(41, 2)])),
      "GET /api/v1/graphs/5/versions/41/": json(200, { ...version(41, 2), document: trained, validation: null }),
      "POST /api/v1/graphs/validate/": json(200, report()),
      "GET /api/v1/projects/1/": json(200, makeProject()),
    });
    renderApp("/projects/1/graphs/5?version=41", { user: ada });

    expect(await screen.findByTestId("node-conv_b")).toBeInTheDocument();
    expect(api.sent("GET", "/api/v1/graphs/5/versions/41/")).toHaveLength(1);
    expect(api.sent("GET", "/api/v1/graphs/5/versions/42/")).toHaveLength(0);
  });
});
