/**
 * A small tus 1.0.0 client (core + creation) for the server's /api/v1/uploads/ endpoint.
 *
 * The upload URL is remembered in localStorage under a fingerprint of the file (name, size,
 * last modified), so after a dropped connection or a reload, dropping the same file again asks
 * the server (HEAD) where it stopped and continues from that offset instead of starting over.
 */
import { csrfToken } from "../api/client";

export const TUS_VERSION = "1.0.0";
const STORAGE_PREFIX = "vmb.upload.";
const UPLOADS = "/api/v1/uploads/";

export interface FileLike {
  name: string;
  size: number;
  lastModified: number;
  slice: (start: number, end: number) => Blob;
}

export interface UploadOptions {
  chunkSize?: number;
  onProgress?: (sent: number, total: number) => void;
  signal?: AbortSignal;
  /** How many times one chunk is retried (after asking the server for its offset) before giving up. */
  retries?: number;
  storage?: Pick<Storage, "getItem" | "setItem" | "removeItem">;
}

export class UploadError extends Error {
  override readonly name = "UploadError";
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

export function fingerprint(file: Pick<FileLike, "name" | "size" | "lastModified">): string {
  return `${STORAGE_PREFIX}${file.name}:${file.size}:${file.lastModified}`;
}

function base64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

async function csrfHeaders(): Promise<Record<string, string>> {
  return { "X-CSRFToken": await csrfToken() };
}

async function failure(response: Response, what: string): Promise<UploadError> {
  let detail = "";
  try {
    const body = (await response.json()) as { detail?: string };
    detail = body.detail ?? "";
  } catch {
    // no JSON body (HEAD, proxies)
  }
  return new UploadError(detail || `${what} failed (HTTP ${response.status}).`, response.status);
}

/** Where the server says the upload stands, or null when it no longer knows it. */
export async function serverOffset(url: string, signal?: AbortSignal): Promise<number | null> {
  const response = await fetch(url, { method: "HEAD", headers: { "Tus-Resumable": TUS_VERSION }, credentials: "same-origin", signal });
  if (response.status === 404 || response.status === 410) return null;
  if (!response.ok) throw await failure(response, "Checking the upload");
  const offset = Number(response.headers.get("Upload-Offset"));
  return Number.isFinite(offset) ? offset : null;
}

async function create(file: FileLike, signal?: AbortSignal): Promise<string> {
  const response = await fetch(UPLOADS, {
    method: "POST",
    credentials: "same-origin",
    signal,
    headers: {
      ...(await csrfHeaders()),
      "Tus-Resumable": TUS_VERSION,
      "Upload-Length": String(file.size),
      "Upload-Metadata": `filename ${base64(file.name)}`,
    },
  });
  if (!response.ok) throw await failure(response, "Starting the upload");
  const location = response.headers.get("Location");
  if (!location) throw new UploadError("The server did not say where to send the file.", response.status);
  // Same origin: keep only the path, so a proxy's host name never matters.
  return new URL(location, window.location.href).pathname;
}

async function patch(url: string, file: FileLike, offset: number, chunkSize: number, signal?: AbortSignal): Promise<number> {
  const end = Math.min(file.size, offset + chunkSize);
  const response = await fetch(url, {
    method: "PATCH",
    credentials: "same-origin",
    signal,
    headers: {
      ...(await csrfHeaders()),
      "Tus-Resumable": TUS_VERSION,
      "Upload-Offset": String(offset),
      "Content-Type": "application/offset+octet-stream",
    },
    body: file.slice(offset, end),
  });
  if (!response.ok) throw await failure(response, "Sending the file");
  const next = Number(response.headers.get("Upload-Offset"));
  return Number.isFinite(next) && next > offset ? next : end;
}

/**
 * Uploads `file`, resuming a remembered upload of the same file when the server still has it.
 * Resolves with the upload's id (the last path segment of its URL).
 */
export async function uploadFile(file: FileLike, options: UploadOptions = {}): Promise<string> {
  const { chunkSize = 4 * 1024 * 1024, onProgress, signal, retries = 3 } = options;
  const storage = options.storage ?? window.localStorage;
  const key = fingerprint(file);
  let url = storage.getItem(key);
  let offset: number | null = null;
  if (url) offset = await serverOffset(url, signal);
  if (url === null || offset === null) {
    url = await create(file, signal);
    storage.setItem(key, url);
    offset = 0;
  }
  onProgress?.(offset, file.size);
  let failures = 0;
  while (offset < file.size) {
    try {
      offset = await patch(url, file, offset, chunkSize, signal);
      failures = 0;
      onProgress?.(offset, file.size);
    } catch (error) {
      if (signal?.aborted || (error instanceof UploadError && error.status !== 409 && error.status < 500)) throw error;
      failures += 1;
      if (failures > retries) throw error instanceof UploadError ? error : new UploadError("The connection dropped. Drop the file again to continue where it stopped.", 0);
      // A dropped connection or a wrong offset (409): the server knows where it stands.
      const known = await serverOffset(url, signal).catch(() => null);
      if (known !== null) offset = known;
    }
  }
  storage.removeItem(key);
  return uploadId(url);
}

export function uploadId(url: string): string {
  return url.replace(/\/+$/, "").split("/").pop() ?? "";
}
