import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import type { Graph } from "../../api/graphs";
import { ada, makeGraph, makeProject, page } from "../../test/fixtures";
import { type RecordedRequest, json, mockApi } from "../../test/mockApi";
import { renderApp } from "../../test/renderApp";

const templates = {
  templates: [{ id: "lenet5", name: "LeNet-5", description: "Digits", task: "classification", modality: "image" }],
  torchvision: ["resnet18", "resnet50"],
};

describe("ProjectDetailPage", () => {
  it("shows the project's name and its graphs, linked to the graph editor", async () => {
    const latest_version = { id: 3, number: 2, message: "Add dropout", is_valid: true, created_at: "2025-01-04" };
    const saved = makeGraph({ id: 11, name: "ResNet", latest_version });
    const api = mockApi({
      "GET /api/v1/projects/1/": json(200, makeProject()),
      "GET /api/v1/graphs/": json(200, page([makeGraph(), saved])),
      "GET /api/v1/templates/": json(200, templates),
    });
    renderApp("/projects/1", { user: ada });

    expect(await screen.findByRole("heading", { level: 1, name: "Digits" })).toBeInTheDocument();
    const list = await screen.findByRole("list", { name: "Graphs" });
    expect(within(list).getByRole("link", { name: "LeNet" })).toHaveAttribute("href", "/projects/1/graphs/10");
    expect(within(list).getByText(/Not saved yet/)).toBeInTheDocument();
    expect(within(list).getByText(/Version 2/)).toBeInTheDocument();
    expect(api.sent("GET", "/api/v1/graphs/")[0]?.query.get("project")).toBe("1");
  });

  it("creates a graph in this project", async () => {
    let graphs: Graph[] = [];
    const api = mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/projects/1/": json(200, makeProject()),
      "GET /api/v1/graphs/": () => json(200, page(graphs)),
      "GET /api/v1/templates/": json(200, templates),
      "POST /api/v1/graphs/": (request: RecordedRequest) => {
        graphs = [makeGraph({ id: 12, ...(request.body as Pick<Graph, "name" | "description">) })];
        return json(201, graphs[0]);
      },
    });
    const { user } = renderApp("/projects/1", { user: ada });
    expect(await screen.findByText(/No graphs yet/)).toBeInTheDocument();

    await user.type(screen.getByLabelText("Name"), "VGG");
    await user.click(screen.getByRole("button", { name: "Create graph" }));

    expect(await screen.findByRole("link", { name: "VGG" })).toHaveAttribute("href", "/projects/1/graphs/12");
    expect(api.sent("POST", "/api/v1/graphs/")[0]?.body).toEqual({ project: 1, name: "VGG", description: "" });
  });

  it("creates a graph from a template or a torchvision import, and opens it", async () => {
    const api = mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/projects/1/": json(200, makeProject()),
      "GET /api/v1/graphs/": json(200, page([])),
      "GET /api/v1/templates/": json(200, templates),
      "POST /api/v1/graphs/from-template/": json(201, makeGraph({ id: 21 })),
      "POST /api/v1/graphs/from-torchvision/": json(201, makeGraph({ id: 22 })),
    });
    const { user } = renderApp("/projects/1", { user: ada });
    const gallery = await screen.findByRole("list", { name: "Templates" });
    await user.click(within(gallery).getByRole("button", { name: "Use template LeNet-5" }));
    expect(api.sent("POST", "/api/v1/graphs/from-template/")[0]?.body).toEqual({ project: 1, template: "lenet5" });
    expect(await screen.findByText(/Loading/)).toBeInTheDocument();
  });

  it("imports a torchvision architecture by name", async () => {
    const api = mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/projects/1/": json(200, makeProject()),
      "GET /api/v1/graphs/": json(200, page([])),
      "GET /api/v1/templates/": json(200, templates),
      "POST /api/v1/graphs/from-torchvision/": json(201, makeGraph({ id: 22 })),
    });
    const { user } = renderApp("/projects/1", { user: ada });
    await user.selectOptions(await screen.findByLabelText("Architecture"), "resnet50");
    await user.click(screen.getByRole("button", { name: "Import" }));
    expect(api.sent("POST", "/api/v1/graphs/from-torchvision/")[0]?.body).toEqual({
      project: 1,
      architecture: "resnet50",
      num_classes: 1000,
      input_size: 224,
    });
  });

  it("offers no graph form to a viewer", async () => {
    mockApi({
      "GET /api/v1/projects/1/": json(200, makeProject({ role: "viewer" })),
      "GET /api/v1/graphs/": json(200, page([])),
    });
    renderApp("/projects/1", { user: ada });

    expect(await screen.findByText("This project has no graphs yet.")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Create graph" })).not.toBeInTheDocument();
  });

  it("says so when the project does not exist", async () => {
    mockApi({ "GET /api/v1/projects/99/": json(404, { detail: "Not found." }) });
    renderApp("/projects/99", { user: ada });

    expect(await screen.findByRole("heading", { name: "Project not found" })).toBeInTheDocument();
  });
});
