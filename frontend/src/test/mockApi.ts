import { vi } from "vitest";

/** One request the code under test sent, decoded for assertions. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  credentials: RequestCredentials | undefined;
  body: unknown;
}

export interface MockResponse {
  status: number;
  body?: unknown;
  /** Extra response headers (a tus server's Location and Upload-Offset). */
  headers?: Record<string, string>;
}

export type RouteHandler = MockResponse | ((request: RecordedRequest) => MockResponse);

/** Routes keyed "METHOD /path/" (no query string). */
export type Routes = Record<string, RouteHandler>;

const defaultRoutes: Routes = {
  "GET /healthz": { status: 200, body: { status: "ok", checks: { database: { ok: true } } } },
};

export function json(status: number, body?: unknown): MockResponse {
  return { status, body };
}

/** The typed client sends a `Request`; multipart and endpoint calls send a URL and an init. */
async function record(input: RequestInfo | URL, init: RequestInit): Promise<RecordedRequest> {
  if (input instanceof Request) {
    const url = new URL(input.url);
    const text = await input.clone().text();
    const isJson = (input.headers.get("Content-Type") ?? "").startsWith("application/json");
    return {
      method: input.method,
      path: url.pathname,
      query: url.searchParams,
      headers: input.headers,
      credentials: input.credentials,
      body: isJson && text !== "" ? (JSON.parse(text) as unknown) : undefined,
    };
  }
  const url = new URL(String(input), "http://localhost");
  return {
    method: init.method ?? "GET",
    path: url.pathname,
    query: url.searchParams,
    headers: new Headers(init.headers),
    credentials: init.credentials,
    body: typeof init.body === "string" ? (JSON.parse(init.body) as unknown) : undefined,
  };
}

/**
 * Replaces `fetch` with a fake server answering from `routes`. An unrouted request gets a 599 so
 * a test that forgot a route fails visibly instead of hanging.
 */
export function mockApi(routes: Routes) {
  const requests: RecordedRequest[] = [];
  const table: Routes = { ...defaultRoutes, ...routes };

  const fetchMock = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const request = await record(input, init);
    requests.push(request);
    const handler = table[`${request.method} ${request.path}`];
    const response =
      handler === undefined
        ? json(599, { detail: `No mock for ${request.method} ${request.path}` })
        : typeof handler === "function"
          ? handler(request)
          : handler;
    const hasBody = response.body !== undefined;
    return new Response(hasBody ? JSON.stringify(response.body) : null, {
      status: response.status,
      headers: { ...(hasBody ? { "Content-Type": "application/json" } : {}), ...response.headers },
    });
  });
  vi.stubGlobal("fetch", fetchMock);

  return {
    fetchMock,
    requests,
    /** The requests sent to one route, oldest first. */
    sent: (method: string, path: string) => requests.filter((r) => r.method === method && r.path === path),
  };
}
