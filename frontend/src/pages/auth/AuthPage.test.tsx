import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { ada, makeProject, page } from "../../test/fixtures";
import { json, mockApi } from "../../test/mockApi";
import { renderApp } from "../../test/renderApp";

const projectsRoute = { "GET /api/v1/projects/": json(200, page([makeProject()])) };

describe("sign up", () => {
  it("shows each field's errors from a 400 under that field", async () => {
    const api = mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "POST /api/v1/auth/signup/": json(400, {
        username: ["A user with that username already exists."],
        password: ["This password is too short. It must contain at least 8 characters."],
      }),
    });
    const { user } = renderApp("/sign-up", { user: null });

    await user.type(screen.getByLabelText("Username"), "ada");
    await user.type(screen.getByLabelText("Password"), "short");
    await user.click(screen.getByRole("button", { name: "Sign up" }));

    const username = screen.getByLabelText("Username");
    expect(await screen.findByText("A user with that username already exists.")).toBeVisible();
    expect(username).toHaveAttribute("aria-invalid", "true");
    expect(username).toHaveAccessibleDescription("A user with that username already exists.");
    expect(screen.getByLabelText("Password")).toHaveAccessibleDescription(
      "This password is too short. It must contain at least 8 characters.",
    );
    expect(screen.getByLabelText("Email")).not.toHaveAttribute("aria-invalid");
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
    expect(api.sent("POST", "/api/v1/auth/signup/")[0]?.body).toEqual({ username: "ada", password: "short" });
    expect(screen.getByRole("heading", { name: "Create your account" })).toBeInTheDocument();
  });

  it("signs the new user in and goes to the projects page", async () => {
    const api = mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "POST /api/v1/auth/signup/": json(201, ada),
      ...projectsRoute,
    });
    const { user } = renderApp("/sign-up", { user: null });

    await user.type(screen.getByLabelText("Username"), "ada");
    await user.type(screen.getByLabelText("Email"), "ada@example.com");
    await user.type(screen.getByLabelText("Password"), "a-long-passphrase");
    await user.click(screen.getByRole("button", { name: "Sign up" }));

    expect(await screen.findByRole("heading", { name: "Projects" })).toBeInTheDocument();
    expect(screen.getByText("ada")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Sign out" })).toBeInTheDocument();
    const [request] = api.sent("POST", "/api/v1/auth/signup/");
    expect(request?.body).toEqual({ username: "ada", email: "ada@example.com", password: "a-long-passphrase" });
    expect(request?.headers.get("X-CSRFToken")).toBe("token");
  });
});

describe("sign in", () => {
  it("shows a wrong password as a general alert", async () => {
    mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "POST /api/v1/auth/login/": json(400, { detail: "Invalid username or password." }),
    });
    const { user } = renderApp("/sign-in", { user: null });

    await user.type(screen.getByLabelText("Username"), "ada");
    await user.type(screen.getByLabelText("Password"), "wrong");
    await user.click(screen.getByRole("button", { name: "Sign in" }));

    expect(await screen.findByRole("alert")).toHaveTextContent("Invalid username or password.");
    expect(screen.getByRole("button", { name: "Sign in" })).toBeEnabled();
  });

  it("sends a signed-out visitor to sign in, then back where they were going", async () => {
    mockApi({
      "GET /api/v1/auth/session/": json(200, { user: null }),
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "token" }),
      "POST /api/v1/auth/login/": json(200, ada),
      "GET /api/v1/projects/1/": json(200, makeProject()),
      "GET /api/v1/graphs/": json(200, page([])),
    });
    const { user } = renderApp("/projects/1");

    expect(await screen.findByRole("heading", { name: "Sign in" })).toBeInTheDocument();
    expect(screen.queryByLabelText("Email")).not.toBeInTheDocument();
    await user.type(screen.getByLabelText("Username"), "ada");
    await user.type(screen.getByLabelText("Password"), "a-long-passphrase");
    await user.click(screen.getByRole("button", { name: "Sign in" }));

    expect(await screen.findByRole("heading", { name: "Digits" })).toBeInTheDocument();
  });

  it("links to sign up and back", async () => {
    mockApi({});
    const { user } = renderApp("/sign-in", { user: null });

    await user.click(screen.getByRole("link", { name: "Create an account" }));
    expect(screen.getByRole("button", { name: "Sign up" })).toBeInTheDocument();
    await user.click(screen.getByRole("link", { name: "Sign in" }));
    expect(screen.getByRole("button", { name: "Sign in" })).toBeInTheDocument();
  });
});
