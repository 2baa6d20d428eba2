import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { HttpRequest, HttpResponse, HttpStack, PreviousUpload, UrlStorage } from "tus-js-client";

import { UploadError, uploadFile } from "./tusUpload";

/** tus-js-client's upload store, in memory. */
function memoryStorage(): UrlStorage & { entries: Map<string, PreviousUpload & { fingerprint: string }> } {
  const entries = new Map<string, PreviousUpload & { fingerprint: string }>();
  return {
    entries,
    findAllUploads: async () => [...entries.values()],
    findUploadsByFingerprint: async (fingerprint) => [...entries.values()].filter((e) => e.fingerprint === fingerprint),
    removeUpload: async (key) => void entries.delete(key),
    addUpload: async (fingerprint, upload) => {
      const key = `k${entries.size}`;
      entries.set(key, { ...upload, fingerprint, urlStorageKey: key });
      return key;
    },
  };
}

function response(status: number, headers: Record<string, string> = {}, body = ""): HttpResponse {
  return { getStatus: () => status, getHeader: (name) => headers[name], getBody: () => body, getUnderlyingObject: () => null };
}

interface ServerOptions {
  /** PATCHes that fail as a network error after half their bytes arrived (0: the first). */
  dropPatches?: number[];
  /** Every PATCH is refused with this status and `{"detail": ...}`. */
  refuse?: { status: number; detail: string };
}

/** A tus 1.0.0 server in memory, speaking tus-js-client's HttpStack; it answers Location as Django does (absolute). */
function tusServer(options: ServerOptions = {}) {
  const offsets = new Map<string, number>();
  const calls: { method: string; url: string; headers: Record<string, string> }[] = [];
  let patches = 0;
  let created = 0;
  const stack: HttpStack = {
    getName: () => "memory",
    createRequest(method: string, url: string): HttpRequest {
      const headers: Record<string, string> = {};
      let progress: (sent: number) => void = () => {};
      const answer = async (body: Blob | null): Promise<HttpResponse> => {
        calls.push({ method, url, headers: { ...headers } });
        if (method === "POST") {
          const path = `/api/v1/uploads/id-${++created}/`;
          offsets.set(path, 0);
          return response(201, { Location: `http://testserver${path}`, "Tus-Resumable": "1.0.0" });
        }
        const offset = offsets.get(url);
        if (offset === undefined) return response(404);
        if (method === "HEAD") return response(200, { "Upload-Offset": String(offset), "Upload-Length": "12" });
        if (options.refuse) return response(options.refuse.status, {}, JSON.stringify({ detail: options.refuse.detail }));
        if (Number(headers["Upload-Offset"]) !== offset) return response(409, {}, '{"detail": "wrong offset"}');
        const size = body?.size ?? 0;
        if (options.dropPatches?.includes(patches++)) {
          offsets.set(url, offset + Math.floor(size / 2));
          throw new TypeError("network down");
        }
        progress(size);
        offsets.set(url, offset + size);
        return response(204, { "Upload-Offset": String(offset + size) });
      };
      return {
        getMethod: () => method,
        getURL: () => url,
        setHeader: (name, value) => void (headers[name] = value),
        getHeader: (name) => headers[name],
        setProgressHandler: (handler) => void (progress = handler),
        send: answer,
        abort: async () => {},
        getUnderlyingObject: () => null,
      };
    },
  };
  return { stack, calls, offsets };
}

const file = () => new File([new Uint8Array(12)], "digits.zip", { lastModified: 42 });

beforeEach(() => {
  document.cookie = "csrftoken=cookie-token; path=/";
});
afterEach(() => {
  document.cookie = "csrftoken=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/";
});

describe("uploadFile", () => {
  it("creates an upload with the CSRF token, sends chunks to the same origin, reports progress and forgets the finished upload", async () => {
    const server = tusServer();
    const urlStorage = memoryStorage();
    const progress: number[] = [];

    const id = await uploadFile(file(), { chunkSize: 5, urlStorage, httpStack: server.stack, onProgress: (sent) => progress.push(sent) });

    expect(id).toBe("id-1");
    const [create, ...rest] = server.calls;
    expect(create?.url).toBe("/api/v1/uploads/");
    expect(create?.headers).toMatchObject({ "X-CSRFToken": "cookie-token", "Upload-Length": "12", "Upload-Metadata": `filename ${btoa("digits.zip")}` });
    // The server named http://testserver/...; the requests stay on this origin.
    expect(rest.map((c) => `${c.method} ${c.url}`)).toEqual(Array(3).fill("PATCH /api/v1/uploads/id-1/"));
    expect(rest.every((c) => c.headers["X-CSRFToken"] === "cookie-token")).toBe(true);
    expect(progress.at(-1)).toBe(12);
    expect(server.offsets.get("/api/v1/uploads/id-1/")).toBe(12);
    expect(urlStorage.entries.size).toBe(0);
  });

  it("after a dropped connection asks HEAD where it stopped and continues from there", async () => {
    const server = tusServer({ dropPatches: [1] });
    const progress: number[] = [];

    await uploadFile(file(), { chunkSize: 4, retryDelays: [0], urlStorage: memoryStorage(), httpStack: server.stack, onProgress: (sent) => progress.push(sent) });

    expect(server.offsets.get("/api/v1/uploads/id-1/")).toBe(12);
    expect(server.calls.filter((c) => c.method === "HEAD")).toHaveLength(1);
    // 4 sent, then the chunk at 4 dropped after 2 of its bytes arrived: continue from 6, not 4 or 0.
    expect(server.calls.filter((c) => c.method === "PATCH").map((c) => c.headers["Upload-Offset"])).toEqual(["0", "4", "6", "10"]);
    expect(progress.at(-1)).toBe(12);
  });

  it("keeps an unfinished upload so dropping the same file again resumes it from the server's offset", async () => {
    const server = tusServer({ dropPatches: [1] });
    const urlStorage = memoryStorage();

    const failure = uploadFile(file(), { chunkSize: 4, retryDelays: [], urlStorage, httpStack: server.stack });
    await expect(failure).rejects.toThrow(/connection dropped/);
    expect(urlStorage.entries.size).toBe(1);

    const id = await uploadFile(file(), { chunkSize: 4, retryDelays: [], urlStorage, httpStack: server.stack });

    expect(id).toBe("id-1");
    expect(server.calls.filter((c) => c.method === "POST")).toHaveLength(1);
    expect(server.offsets.get("/api/v1/uploads/id-1/")).toBe(12);
    expect(urlStorage.entries.size).toBe(0);
  });

  it("starts again when the server no longer knows the remembered upload", async () => {
    const first = tusServer({ dropPatches: [0] });
    const urlStorage = memoryStorage();
    await expect(uploadFile(file(), { retryDelays: [], urlStorage, httpStack: first.stack })).rejects.toThrow(UploadError);

    const second = tusServer();
    expect(await uploadFile(file(), { retryDelays: [], urlStorage, httpStack: second.stack })).toBe("id-1");
    expect(second.calls.map((c) => c.method)).toEqual(["HEAD", "POST", "PATCH"]);
  });

  it("gives the server's reason for a refusal, with its status, and does not retry it", async () => {
    const server = tusServer({ refuse: { status: 413, detail: "a chunk is at most 16777216 bytes" } });

    const error = await uploadFile(file(), { retryDelays: [0, 0], urlStorage: memoryStorage(), httpStack: server.stack }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UploadError);
    expect(error).toMatchObject({ status: 413, message: "a chunk is at most 16777216 bytes" });
    expect(server.calls.filter((c) => c.method === "PATCH")).toHaveLength(1);
  });

  it("stops when aborted and rejects with the signal's reason", async () => {
    const server = tusServer();
    const controller = new AbortController();
    const upload = uploadFile(file(), {
      chunkSize: 4,
      urlStorage: memoryStorage(),
      httpStack: server.stack,
      signal: controller.signal,
      onProgress: (sent) => sent >= 4 && controller.abort(),
    });

    await expect(upload).rejects.toMatchObject({ name: "AbortError" });
    expect(server.offsets.get("/api/v1/uploads/id-1/")).toBeLessThan(12);
  });
});
