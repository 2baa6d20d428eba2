import { describe, expect, it } from "vitest";

import { json, mockApi } from "../test/mockApi";
import { ApiError, api, apiRequest, unwrap } from "./client";

function setCsrfCookie(value: string) {
  document.cookie = `csrftoken=${value}; path=/`;
}

async function rejectionOf(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => {
      throw new Error("expected the request to fail");
    },
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

describe("apiRequest", () => {
  it("sends a GET with the session cookie, no CSRF header, and the non-empty query values", async () => {
    const api = mockApi({ "GET /api/v1/projects/": json(200, { count: 0 }) });
    setCsrfCookie("cookie-token");

    const body = await apiRequest("/api/v1/projects/", { query: { page: 2, search: "", other: undefined } });

    expect(body).toEqual({ count: 0 });
    const [request] = api.requests;
    expect(request?.credentials).toBe("same-origin");
    expect(request?.query.toString()).toBe("page=2");
    expect(request?.headers.has("X-CSRFToken")).toBe(false);
  });

  it("sends the csrftoken cookie as X-CSRFToken with a JSON body on unsafe methods", async () => {
    const api = mockApi({ "POST /api/v1/projects/": json(201, { id: 3 }) });
    setCsrfCookie("cookie-token");

    await apiRequest("/api/v1/projects/", { method: "POST", body: { name: "Digits" } });

    const [request] = api.sent("POST", "/api/v1/projects/");
    expect(request?.headers.get("X-CSRFToken")).toBe("cookie-token");
    expect(request?.headers.get("Content-Type")).toBe("application/json");
    expect(request?.body).toEqual({ name: "Digits" });
    expect(api.sent("GET", "/api/v1/auth/csrf/")).toHaveLength(0);
  });

  it("asks the server for a CSRF token when there is no cookie, once", async () => {
    const api = mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "server-token" }),
      "DELETE /api/v1/projects/3/": json(204),
    });

    await apiRequest("/api/v1/projects/3/", { method: "DELETE" });
    await apiRequest("/api/v1/projects/3/", { method: "DELETE" });

    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /api/v1/auth/csrf/",
      "DELETE /api/v1/projects/3/",
      "DELETE /api/v1/projects/3/",
    ]);
    expect(api.sent("DELETE", "/api/v1/projects/3/")[1]?.headers.get("X-CSRFToken")).toBe("server-token");
  });

  it("retries once with a fresh token when the server rejects the CSRF token", async () => {
    let attempts = 0;
    const api = mockApi({
      "GET /api/v1/auth/csrf/": json(200, { csrfToken: "fresh-token" }),
      "POST /api/v1/auth/logout/": () => {
        attempts += 1;
        return attempts === 1 ? json(403, { detail: "CSRF Failed: CSRF token incorrect." }) : json(204);
      },
    });
    setCsrfCookie("stale-token");

    await apiRequest("/api/v1/auth/logout/", { method: "POST" });

    const tokens = api.sent("POST", "/api/v1/auth/logout/").map((r) => r.headers.get("X-CSRFToken"));
    expect(tokens).toEqual(["stale-token", "fresh-token"]);
  });

  it("returns undefined for an empty 204 response", async () => {
    mockApi({ "DELETE /api/v1/projects/3/": json(204) });
    setCsrfCookie("cookie-token");

    await expect(apiRequest("/api/v1/projects/3/", { method: "DELETE" })).resolves.toBeUndefined();
  });

  it("turns a DRF field-error body into ApiError.fieldErrors", async () => {
    mockApi({
      "POST /api/v1/auth/signup/": json(400, {
        username: ["A user with that username already exists."],
        password: ["This password is too short.", "This password is too common."],
      }),
    });
    setCsrfCookie("cookie-token");

    const error = await rejectionOf(apiRequest("/api/v1/auth/signup/", { method: "POST", body: {} }));

    expect(error.status).toBe(400);
    expect(error.detail).toBeNull();
    expect(error.fieldErrors).toEqual({
      username: ["A user with that username already exists."],
      password: ["This password is too short.", "This password is too common."],
    });
    expect(error.message).toBe("username: A user with that username already exists.");
  });

  it("keeps detail and non_field_errors as the general message, and flattens nested errors", async () => {
    mockApi({
      "POST /api/v1/graphs/": json(400, {
        non_field_errors: ["Name must be unique in the project."],
        spec: { nodes: [{ kind: ["Unknown layer."] }] },
      }),
      "POST /api/v1/auth/login/": json(400, { detail: "Invalid username or password." }),
    });
    setCsrfCookie("cookie-token");

    const graphError = await rejectionOf(apiRequest("/api/v1/graphs/", { method: "POST", body: {} }));
    expect(graphError.detail).toBe("Name must be unique in the project.");
    expect(graphError.fieldErrors).toEqual({ "spec.nodes.0.kind": ["Unknown layer."] });

    const loginError = await rejectionOf(apiRequest("/api/v1/auth/login/", { method: "POST", body: {} }));
    expect(loginError.message).toBe("Invalid username or password.");
    expect(loginError.fieldErrors).toEqual({});
  });

  it("gives a readable message for an error page that is not JSON", async () => {
    const fetchMock = async () => new Response("<html>Bad gateway</html>", { status: 502 });
    mockApi({}).fetchMock.mockImplementation(fetchMock);

    const error = await rejectionOf(apiRequest("/api/v1/projects/"));

    expect(error.message).toBe("Request failed with status 502.");
    expect(error.body).toBe("<html>Bad gateway</html>");
  });

  it("reports an unreachable server as status 0", async () => {
    mockApi({}).fetchMock.mockRejectedValue(new TypeError("Failed to fetch"));

    const error = await rejectionOf(apiRequest("/api/v1/projects/"));

    expect(error.isNetworkError).toBe(true);
    expect(error.message).toMatch(/could not reach the server/i);
  });
});

describe("api (typed by the generated schema)", () => {
  it("fills path parameters, sends the JSON body with the CSRF token and returns the typed answer", async () => {
    const run = { id: 12, status: "queued" };
    const api_ = mockApi({ "POST /api/v1/runs/12/cancel/": json(202, run), "POST /api/v1/graphs/": json(201, { id: 3 }) });
    setCsrfCookie("cookie-token");

    const cancelled = await unwrap(api.POST("/api/v1/runs/{id}/cancel/", { params: { path: { id: 12 } } }));
    await unwrap(api.POST("/api/v1/graphs/", { body: { project: 1, name: "LeNet" } }));

    expect(cancelled.status).toBe("queued");
    const [graph] = api_.sent("POST", "/api/v1/graphs/");
    expect(graph?.body).toEqual({ project: 1, name: "LeNet" });
    expect(graph?.headers.get("X-CSRFToken")).toBe("cookie-token");
    expect(graph?.headers.get("Accept")).toBe("application/json");
  });

  it("turns an error answer into the same ApiError as apiRequest", async () => {
    mockApi({ "GET /api/v1/runs/5/": json(404, { detail: "Not found." }) });

    const error = await rejectionOf(unwrap(api.GET("/api/v1/runs/{id}/", { params: { path: { id: 5 } } })));

    expect(error.status).toBe(404);
    expect(error.message).toBe("Not found.");
  });
});
