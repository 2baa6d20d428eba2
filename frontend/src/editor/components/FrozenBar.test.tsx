import { screen, within } from "@testing-library/react";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { ada, makeGraph, makeProject, page } from "../../test/fixtures";
import { layerSpecs, report } from "../../test/layers";
import { json, mockApi } from "../../test/mockApi";
import { prepareReactFlow } from "../../test/reactFlow";
import { renderApp } from "../../test/renderApp";
import { useFrozen } from "../stores/frozenStore";

class SilentSocket {
  onopen: (() => void) | null = null;
  onmessage: (() => void) | null = null;
  onclose: (() => void) | null = null;
  close() {}
}

const document = {
  schema_version: 1,
  nodes: [
    { id: "conv_a", type: "conv2d", params: {}, position: { x: 0, y: 0 } },
    { id: "head", type: "linear", params: {}, position: { x: 300, y: 0 } },
  ],
  edges: [],
};
const version = { id: 40, graph: 5, number: 2, message: "", author: null, parent: null, is_valid: true, is_draft: false, created_at: "2025-01-01" };

function routes(config: Record<string, unknown>) {
  return {
    "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
    "GET /api/v1/layers/": json(200, { registry_version: 1, categories: [], layers: layerSpecs }),
    "GET /api/v1/graphs/5/": json(200, makeGraph({ id: 5 })),
    "GET /api/v1/graphs/5/versions/": json(200, page([version])),
    "GET /api/v1/graphs/5/versions/40/": json(200, { ...version, document, validation: null }),
    "POST /api/v1/graphs/validate/": json(200, report()),
    "GET /api/v1/projects/1/": json(200, makeProject()),
    "GET /api/v1/runs/12/": json(200, { id: 12, project: 1, graph: 5, graph_version: 40, status: "running", config }),
    "GET /api/v1/runs/12/events/": json(200, []),
  };
}

describe("frozen layers on the canvas", () => {
  beforeAll(prepareReactFlow);
  beforeEach(() => {
    vi.stubGlobal("WebSocket", SilentSocket);
    localStorage.clear();
  });
  afterEach(() => vi.unstubAllGlobals());

  it("marks the layers a fine-tuning run freezes, and only those", async () => {
    mockApi(routes({ init_weights: { market_version: 31 }, freeze: ["conv_a"] }));
    renderApp("/projects/1/graphs/5?run=12", { user: ada });

    const frozen = await screen.findByTestId("node-conv_a", {}, { timeout: 3000 });
    expect(frozen).toHaveClass("layer-node--frozen");
    expect(frozen).toHaveAttribute("aria-label", "Layer conv_a (conv2d), frozen");
    expect(within(frozen).getByTestId("frozen-conv_a")).toHaveTextContent("frozen");
    expect(screen.getByTestId("node-head")).not.toHaveClass("layer-node--frozen");
    expect(screen.queryByTestId("frozen-head")).not.toBeInTheDocument();
    expect(screen.getByTestId("frozen-bar")).toHaveTextContent("Run 12 fine-tunes this graph with 1 frozen layer");
  });

  it("clears marks left from an earlier run when this run freezes nothing", async () => {
    useFrozen.getState().setFrozen(["conv_a"], "Run 3");
    mockApi(routes({}));
    renderApp("/projects/1/graphs/5?run=12", { user: ada });
    expect(await screen.findByTestId("node-conv_a", {}, { timeout: 3000 })).not.toHaveClass("layer-node--frozen");
    expect(screen.queryByTestId("frozen-bar")).not.toBeInTheDocument();
  });
});
