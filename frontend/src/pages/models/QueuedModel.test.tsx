import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { ada, makeProject } from "../../test/fixtures";
import { json, mockApi } from "../../test/mockApi";
import { renderApp } from "../../test/renderApp";

describe("a model still being made", () => {
  it("shows its status, not a crash, while the server has no card for it yet (card {})", async () => {
    mockApi({
      "GET /api/v1/projects/1/": json(200, makeProject()),
      // What POST /models/{id}/prune/ answers and the page then reads: the card is the empty default.
      "GET /api/v1/models/8/": json(200, {
        id: 8, project: 1, kind: "pruned", name: "lenet pruned (l2)", run: 2, parent: 7, graph_version: null,
        status: "queued", card: {}, report: {}, error: null, created_at: "2025-01-05",
      }),
    });
    renderApp("/projects/1/models/8", { user: ada });

    expect(await screen.findByText("queued")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "model 7" })).toBeInTheDocument();
    expect(screen.queryByRole("heading", { name: "Model card" })).toBeNull();
  });
});
