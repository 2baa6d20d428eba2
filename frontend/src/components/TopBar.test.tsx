import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { ada, page } from "../test/fixtures";
import { json, mockApi } from "../test/mockApi";
import { renderApp } from "../test/renderApp";

describe("TopBar", () => {
  it("shows the product, the signed-in user and the service status", async () => {
    mockApi({
      "GET /api/v1/projects/": json(200, page([])),
      "GET /healthz": json(503, { status: "degraded", checks: { database: { ok: true }, worker: { ok: false } } }),
    });
    renderApp("/projects", { user: ada });

    expect(screen.getByRole("link", { name: "Visual Model Builder" })).toHaveAttribute("href", "/projects");
    expect(screen.getByText("ada")).toBeInTheDocument();
    const dot = await screen.findByRole("img", { name: "Service status: degraded" });
    expect(dot).toHaveAttribute("title", expect.stringContaining("worker: failing"));
  });

  it("signs out and returns to the sign-in page", async () => {
    const api = mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/projects/": json(200, page([])),
      "POST /api/v1/auth/logout/": json(204),
    });
    const { user } = renderApp("/projects", { user: ada });

    await user.click(screen.getByRole("button", { name: "Sign out" }));

    expect(await screen.findByRole("heading", { name: "Sign in" })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Sign out" })).not.toBeInTheDocument();
    expect(api.sent("POST", "/api/v1/auth/logout/")).toHaveLength(1);
  });
});
