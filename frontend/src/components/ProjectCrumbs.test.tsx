import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { ada, makeProject, page } from "../test/fixtures";
import { json, mockApi } from "../test/mockApi";
import { renderApp } from "../test/renderApp";

describe("ProjectCrumbs", () => {
  it("names the project on the models page, and the empty deployments list says what to do", async () => {
    mockApi({
      "GET /api/v1/projects/1/": json(200, makeProject()),
      "GET /api/v1/models/": json(200, page([])),
      "GET /api/v1/deployments/": json(200, page([])),
    });
    renderApp("/projects/1/models", { user: ada });

    const crumbs = screen.getByRole("navigation", { name: "Breadcrumb" });
    expect(await within(crumbs).findByRole("link", { name: "Digits" })).toHaveAttribute("href", "/projects/1");
    expect(within(crumbs).getByText("Models & deployments")).toHaveAttribute("aria-current", "page");
    expect(await screen.findByText(/Nothing is deployed/)).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Train a model first" })).toHaveAttribute("href", "/projects/1/train");
    expect(screen.getByRole("link", { name: "Train a model" })).toHaveAttribute("href", "/projects/1/train");
  });
});
