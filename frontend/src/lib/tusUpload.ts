/**
 * Resumable uploads to the server's tus 1.0.0 endpoint (/api/v1/uploads/), sent by tus-js-client.
 *
 * tus-js-client remembers an unfinished upload's URL (localStorage) under a fingerprint of the
 * file, so after a dropped connection or a reload, dropping the same file again asks the server
 * (HEAD) where it stopped and continues from that offset instead of starting over. A request that
 * fails on the way (a dropped connection, a 5xx, a 409 for a wrong offset) is retried after
 * asking the server for its offset the same way.
 */
import { DetailedError, type HttpRequest, type HttpStack, Upload, type UrlStorage, defaultOptions } from "tus-js-client";

import { csrfToken } from "../api/client";

const UPLOADS = "/api/v1/uploads/";
const CSRF_HEADER = "X-CSRFToken";
const UNSAFE_METHODS: ReadonlySet<string> = new Set(["POST", "PATCH", "DELETE"]);
const DROPPED = "The connection dropped. Drop the file again to continue where it stopped.";

export interface UploadOptions {
  /** Bytes per PATCH; the server takes at most 16 MiB (VMB_UPLOAD_CHUNK_MAX_BYTES). */
  chunkSize?: number;
  onProgress?: (sent: number, total: number) => void;
  /** Aborting stops sending and rejects; the upload stays remembered, to resume later. */
  signal?: AbortSignal;
  /** Milliseconds to wait before each retry of a failed request; one retry per entry. */
  retryDelays?: number[];
  /** Where unfinished uploads are remembered; tus-js-client's localStorage store by default. */
  urlStorage?: UrlStorage;
  /** How requests are sent; tus-js-client's XMLHttpRequest stack by default. */
  httpStack?: HttpStack;
}

export class UploadError extends Error {
  override readonly name = "UploadError";
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * Sends every request to the path of the URL it is given. The server names the upload's URL with
 * the host it saw; behind a proxy that host may not be the browser's, and the API is same-origin.
 */
class SameOriginStack implements HttpStack {
  private readonly inner: HttpStack;

  constructor(inner: HttpStack) {
    this.inner = inner;
  }

  createRequest(method: string, url: string): HttpRequest {
    const { pathname, search } = new URL(url, window.location.href);
    return this.inner.createRequest(method, `${pathname}${search}`);
  }

  getName(): string {
    return `SameOrigin(${this.inner.getName()})`;
  }
}

async function addCsrfToken(request: HttpRequest): Promise<void> {
  if (UNSAFE_METHODS.has(request.getMethod())) request.setHeader(CSRF_HEADER, await csrfToken());
}

/** The server's refusal (`{"detail": ...}`) in its words, or a dropped connection in ours. */
function uploadError(error: Error): Error {
  const response = error instanceof DetailedError ? error.originalResponse : null;
  if (response === null) {
    // The CSRF token could not be had: that failure already says what went wrong.
    const cause = error instanceof DetailedError ? error.causingError : error;
    return cause !== null && cause.name === "ApiError" ? cause : new UploadError(DROPPED, 0);
  }
  const status = response.getStatus();
  let detail = "";
  try {
    detail = (JSON.parse(response.getBody()) as { detail?: string }).detail ?? "";
  } catch {
    // no JSON body (HEAD, proxies)
  }
  return new UploadError(detail || `Sending the file failed (HTTP ${status}).`, status);
}

/**
 * Uploads `file`, resuming a remembered upload of the same file when the server still has it.
 * Resolves with the upload's id (the last path segment of its URL).
 *
 * @throws UploadError with the server's reason (its status) or a dropped connection (status 0);
 *   the signal's reason when aborted.
 */
export function uploadFile(file: File, options: UploadOptions = {}): Promise<string> {
  const { chunkSize = 4 * 1024 * 1024, onProgress, signal, retryDelays = [0, 1000, 3000] } = options;
  return new Promise<string>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const stop = () => {
      // Not terminated: the server keeps what it has, so the same file resumes later.
      void upload.abort(false);
      reject(signal?.reason);
    };
    const upload = new Upload(file, {
      // Absolute, so the server's Location resolves against it.
      endpoint: new URL(UPLOADS, window.location.href).href,
      chunkSize,
      retryDelays,
      metadata: { filename: file.name },
      removeFingerprintOnSuccess: true,
      httpStack: new SameOriginStack(options.httpStack ?? defaultOptions.httpStack),
      ...(options.urlStorage ? { urlStorage: options.urlStorage } : {}),
      onBeforeRequest: addCsrfToken,
      onProgress: (sent, total) => onProgress?.(sent, total),
      onSuccess: () => {
        signal?.removeEventListener("abort", stop);
        resolve(uploadId(upload.url ?? ""));
      },
      onError: (error) => {
        signal?.removeEventListener("abort", stop);
        reject(uploadError(error));
      },
    });
    signal?.addEventListener("abort", stop, { once: true });
    upload.findPreviousUploads().then((previous) => {
      if (signal?.aborted) return;
      const remembered = previous[0];
      if (remembered !== undefined) upload.resumeFromPreviousUpload(remembered);
      upload.start();
    }, reject);
  });
}

export function uploadId(url: string): string {
  return url.replace(/\/+$/, "").split("/").pop() ?? "";
}
