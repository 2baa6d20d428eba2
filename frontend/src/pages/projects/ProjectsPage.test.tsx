import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import type { Project } from "../../api/projects";
import { ada, makeProject, page } from "../../test/fixtures";
import { type RecordedRequest, json, mockApi } from "../../test/mockApi";
import { renderApp } from "../../test/renderApp";

const digits = makeProject();
const shared = makeProject({
  id: 2,
  name: "Shared speech",
  description: "",
  owner: { id: 9, username: "grace" },
  role: "viewer",
});

describe("ProjectsPage", () => {
  it("lists the user's projects with their role and owner", async () => {
    mockApi({ "GET /api/v1/projects/": json(200, page([digits, shared])) });
    renderApp("/projects", { user: ada });

    const list = await screen.findByRole("list", { name: "Projects" });
    const items = within(list).getAllByRole("listitem");
    expect(items).toHaveLength(2);
    expect(within(items[0]!).getByRole("link", { name: "Digits" })).toHaveAttribute("href", "/projects/1");
    expect(within(items[0]!).getByText("owner")).toBeInTheDocument();
    expect(within(items[0]!).getByText("MNIST classifiers")).toBeInTheDocument();
    expect(within(items[1]!).getByText("viewer")).toBeInTheDocument();
    expect(within(items[1]!).getByText(/Owner grace/)).toBeInTheDocument();
    expect(screen.queryByRole("navigation", { name: "Projects pages" })).not.toBeInTheDocument();
  });

  it("shows an empty state when the user has no projects", async () => {
    mockApi({ "GET /api/v1/projects/": json(200, page([])) });
    renderApp("/projects", { user: ada });

    expect(await screen.findByText(/You have no projects yet/)).toBeInTheDocument();
    expect(screen.queryByRole("list", { name: "Projects" })).not.toBeInTheDocument();
  });

  it("creates a project and shows it in the list", async () => {
    let projects: Project[] = [];
    const api = mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/projects/": () => json(200, page(projects)),
      "POST /api/v1/projects/": (request: RecordedRequest) => {
        const created = makeProject({ id: 5, ...(request.body as Pick<Project, "name" | "description">) });
        projects = [created];
        return json(201, created);
      },
    });
    const { user } = renderApp("/projects", { user: ada });
    await screen.findByText(/You have no projects yet/);

    await user.type(screen.getByLabelText("Name"), "  Vision  ");
    await user.type(screen.getByLabelText("Description"), "Image models");
    await user.click(screen.getByRole("button", { name: "Create project" }));

    const list = await screen.findByRole("list", { name: "Projects" });
    expect(within(list).getByRole("link", { name: "Vision" })).toHaveAttribute("href", "/projects/5");
    expect(screen.getByRole("status")).toHaveTextContent("Created project “Vision”.");
    expect(screen.getByLabelText("Name")).toHaveValue("");
    const [request] = api.sent("POST", "/api/v1/projects/");
    expect(request?.body).toEqual({ name: "Vision", description: "Image models" });
    expect(request?.headers.get("X-CSRFToken")).toBe("token");
  });

  it("shows a rejected name under the Name field", async () => {
    mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "GET /api/v1/projects/": json(200, page([digits])),
      "POST /api/v1/projects/": json(400, { name: ["This field may not be blank."] }),
    });
    const { user } = renderApp("/projects", { user: ada });
    await screen.findByRole("list", { name: "Projects" });

    await user.click(screen.getByRole("button", { name: "Create project" }));

    expect(await screen.findByText("This field may not be blank.")).toBeInTheDocument();
    expect(screen.getByLabelText("Name")).toHaveAccessibleDescription("This field may not be blank.");
  });

  it("searches and pages through the list via the API's query parameters", async () => {
    const api = mockApi({
      "GET /api/v1/projects/": (request: RecordedRequest) =>
        request.query.get("page") === "2"
          ? json(200, page([shared], { previous: "/api/v1/projects/?search=s" }))
          : json(200, page([digits], { next: "/api/v1/projects/?page=2&search=s" })),
    });
    const { user } = renderApp("/projects", { user: ada });
    await screen.findByRole("link", { name: "Digits" });

    await user.type(screen.getByRole("searchbox", { name: "Search projects" }), "s");
    await user.click(screen.getByRole("button", { name: "Search" }));
    await user.click(await screen.findByRole("button", { name: "Next page" }));

    expect(await screen.findByRole("link", { name: "Shared speech" })).toBeInTheDocument();
    expect(screen.getByText("Page 2")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Next page" })).toBeDisabled();
    const queries = api.sent("GET", "/api/v1/projects/").map((r) => r.query.toString());
    expect(queries).toEqual(["page=1", "page=1&search=s", "page=2&search=s"]);
  });
});
