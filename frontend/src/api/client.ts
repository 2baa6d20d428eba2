/**
 * A typed fetch wrapper for the Django REST API.
 *
 * Requests are same-origin with the session cookie; unsafe methods carry Django's CSRF token in
 * the `X-CSRFToken` header. Every failure, including a network failure, surfaces as an
 * `ApiError` so callers handle one error type.
 */

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Messages per field, keyed the way DRF keys them (nested fields joined with "."). */
export type FieldErrors = Record<string, string[]>;

export type QueryValue = string | number | boolean | null | undefined;

export interface RequestOptions {
  method?: HttpMethod;
  /** Serialized as JSON. */
  body?: unknown;
  /** Appended as a query string; null, undefined and "" values are left out. */
  query?: Record<string, QueryValue>;
  signal?: AbortSignal;
}

const CSRF_COOKIE = "csrftoken";
const CSRF_HEADER = "X-CSRFToken";
const CSRF_PATH = "/api/v1/auth/csrf/";
const UNSAFE_METHODS: ReadonlySet<HttpMethod> = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const NETWORK_ERROR_MESSAGE = "Could not reach the server. Check your connection and try again.";

export class ApiError extends Error {
  override readonly name = "ApiError";
  /** HTTP status; 0 when the server could not be reached. */
  readonly status: number;
  /** A message that belongs to no single field (DRF's `detail` or `non_field_errors`). */
  readonly detail: string | null;
  readonly fieldErrors: FieldErrors;
  /** The parsed response body, for callers that expect a non-error shape on an error status. */
  readonly body: unknown;

  constructor(status: number, detail: string | null, fieldErrors: FieldErrors = {}, body: unknown = null) {
    super(detail ?? firstFieldMessage(fieldErrors) ?? `Request failed with status ${status}.`);
    this.status = status;
    this.detail = detail;
    this.fieldErrors = fieldErrors;
    this.body = body;
  }

  /** Builds the error from a DRF error body: `{"detail": ...}`, `{"field": [...]}` or a list. */
  static fromBody(status: number, body: unknown): ApiError {
    // Not a DRF body (empty, or an HTML page from a proxy): keep it, but show no part of it.
    if (typeof body !== "object" || body === null) return new ApiError(status, null, {}, body);
    const collected: FieldErrors = {};
    collectMessages(body, "", collected);
    const { detail = [], non_field_errors: nonField = [], "": topLevel = [], ...fields } = collected;
    const general = [...detail, ...nonField, ...topLevel];
    return new ApiError(status, general.length > 0 ? general.join(" ") : null, fields, body);
  }

  get isNetworkError(): boolean {
    return this.status === 0;
  }

  get isUnauthenticated(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

function firstFieldMessage(fieldErrors: FieldErrors): string | null {
  for (const [field, messages] of Object.entries(fieldErrors)) {
    if (messages[0] !== undefined) return `${field}: ${messages[0]}`;
  }
  return null;
}

function collectMessages(value: unknown, path: string, out: FieldErrors): void {
  if (typeof value === "string") {
    (out[path] ??= []).push(value);
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => {
      // A list of strings is one field's messages; a list of objects is a nested list serializer.
      collectMessages(item, typeof item === "string" ? path : joinPath(path, String(index)), out);
    });
  } else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) collectMessages(item, joinPath(path, key), out);
  }
}

function joinPath(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/** Reads a cookie set for this document, or null. */
export function readCookie(name: string): string | null {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

// Used only when the cookie cannot be read (CSRF_COOKIE_HTTPONLY): the token the server handed us.
let serverCsrfToken: string | null = null;

/**
 * Drops the remembered CSRF token. Django rotates the token on sign-in and sign-out, so the auth
 * calls forget it; the next unsafe request reads the fresh cookie or asks the server again.
 */
export function forgetCsrfToken(): void {
  serverCsrfToken = null;
}

async function fetchCsrfToken(): Promise<string> {
  const { csrfToken } = await send<{ csrfToken: string }>(CSRF_PATH, { method: "GET" });
  serverCsrfToken = csrfToken;
  return csrfToken;
}

/** The CSRF token for an unsafe request sent outside `apiRequest` (tus uploads). */
export async function csrfToken(): Promise<string> {
  return readCookie(CSRF_COOKIE) ?? serverCsrfToken ?? (await fetchCsrfToken());
}

function buildUrl(path: string, query: RequestOptions["query"]): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== "") params.set(key, String(value));
  }
  const search = params.toString();
  return search === "" ? path : `${path}?${search}`;
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function isCsrfFailure(error: ApiError): boolean {
  return error.status === 403 && (error.detail ?? "").startsWith("CSRF Failed");
}

async function send<T>(path: string, options: RequestOptions, token?: string): Promise<T> {
  const { method = "GET", body, query, signal } = options;
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token !== undefined) headers[CSRF_HEADER] = token;

  let response: Response;
  try {
    response = await fetch(buildUrl(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError(0, NETWORK_ERROR_MESSAGE);
  }

  const parsed = await readBody(response);
  if (!response.ok) throw ApiError.fromBody(response.status, parsed);
  return parsed as T;
}

/**
 * Sends one request to the API and returns the parsed JSON body (undefined for an empty body,
 * e.g. 204). The body is trusted to match `T`; the server's serializers own that contract.
 *
 * @throws ApiError on a non-2xx status or when the server cannot be reached.
 */
export async function apiRequest<T>(path: string, options: RequestOptions = {}): Promise<T> {
  if (!UNSAFE_METHODS.has(options.method ?? "GET")) return send<T>(path, options);
  try {
    return await send<T>(path, options, await csrfToken());
  } catch (error) {
    // A stale or missing token (a remembered one the server has since rotated, a cookie the
    // browser dropped) earns one retry with a token the server hands out now.
    if (!(error instanceof ApiError) || !isCsrfFailure(error)) throw error;
    return send<T>(path, options, await fetchCsrfToken());
  }
}
