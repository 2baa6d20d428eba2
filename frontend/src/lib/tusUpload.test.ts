import { afterEach, describe, expect, it, vi } from "vitest";

import { fingerprint, uploadFile } from "./tusUpload";

function memoryStorage() {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k: string) => data.get(k) ?? null,
    setItem: (k: string, v: string) => void data.set(k, v),
    removeItem: (k: string) => void data.delete(k),
  };
}

function fakeFile(size: number) {
  return { name: "digits.zip", size, lastModified: 42, slice: (a: number, b: number) => new Blob([new Uint8Array(b - a)]) };
}

/** A tus server in memory; `dropAt` makes one PATCH fail as a network error after storing part of it. */
function tusServer(options: { known?: Record<string, number>; dropOnce?: boolean } = {}) {
  const offsets = new Map<string, number>(Object.entries(options.known ?? {}));
  let dropped = false;
  const calls: string[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const method = init.method ?? "GET";
    const headers = new Headers(init.headers);
    calls.push(`${method} ${url}`);
    if (method === "GET" && url.includes("/auth/csrf/")) return Response.json({ csrfToken: "t" });
    if (method === "POST") {
      const path = "/api/v1/uploads/new-id/";
      offsets.set(path, 0);
      return new Response(null, { status: 201, headers: { Location: `http://localhost${path}` } });
    }
    if (method === "HEAD") {
      const offset = offsets.get(url);
      return offset === undefined ? new Response(null, { status: 404 }) : new Response(null, { status: 200, headers: { "Upload-Offset": String(offset) } });
    }
    if (method === "PATCH") {
      const offset = Number(headers.get("Upload-Offset"));
      const length = (init.body as Blob).size;
      if (offset !== offsets.get(url)) return Response.json({ detail: "wrong offset" }, { status: 409 });
      if (options.dropOnce && !dropped && offset > 0) {
        dropped = true;
        offsets.set(url, offset + Math.floor(length / 2));
        throw new TypeError("network down");
      }
      offsets.set(url, offset + length);
      return new Response(null, { status: 204, headers: { "Upload-Offset": String(offset + length) } });
    }
    return new Response(null, { status: 599 });
  });
  vi.stubGlobal("fetch", fetchMock);
  return { calls, offsets };
}

afterEach(() => vi.unstubAllGlobals());

describe("uploadFile", () => {
  it("creates an upload, sends chunks, reports progress and forgets the finished upload", async () => {
    const server = tusServer();
    const storage = memoryStorage();
    const progress: number[] = [];
    const id = await uploadFile(fakeFile(10), { chunkSize: 4, storage, onProgress: (sent) => progress.push(sent) });
    expect(id).toBe("new-id");
    expect(progress).toEqual([0, 4, 8, 10]);
    expect(server.calls.filter((c) => c.startsWith("PATCH"))).toHaveLength(3);
    expect(storage.data.size).toBe(0);
  });

  it("resumes a remembered upload from the server's offset instead of starting over", async () => {
    const server = tusServer({ known: { "/api/v1/uploads/old-id/": 6 } });
    const storage = memoryStorage();
    const file = fakeFile(10);
    storage.setItem(fingerprint(file), "/api/v1/uploads/old-id/");
    const progress: number[] = [];
    const id = await uploadFile(file, { chunkSize: 4, storage, onProgress: (sent) => progress.push(sent) });
    expect(id).toBe("old-id");
    expect(server.calls.some((c) => c.startsWith("POST"))).toBe(false);
    expect(progress).toEqual([6, 10]);
  });

  it("starts again when the server no longer knows the remembered upload", async () => {
    const server = tusServer();
    const storage = memoryStorage();
    const file = fakeFile(3);
    storage.setItem(fingerprint(file), "/api/v1/uploads/gone/");
    expect(await uploadFile(file, { storage })).toBe("new-id");
    expect(server.calls.some((c) => c.startsWith("POST"))).toBe(true);
  });

  it("after a dropped connection asks HEAD where it stopped and continues from there", async () => {
    const server = tusServer({ dropOnce: true });
    const storage = memoryStorage();
    const progress: number[] = [];
    await uploadFile(fakeFile(12), { chunkSize: 4, storage, onProgress: (sent) => progress.push(sent) });
    expect(server.offsets.get("/api/v1/uploads/new-id/")).toBe(12);
    expect(server.calls.filter((c) => c.startsWith("HEAD"))).toHaveLength(1);
    // 4 sent, then the chunk at 4 dropped after 2 of its bytes arrived: continue from 6, not 4 or 0.
    expect(progress).toEqual([0, 4, 10, 12]);
    expect(server.calls.filter((c) => c.startsWith("PATCH"))).toHaveLength(4);
  });

  it("keeps the upload URL while unfinished so a later drop of the same file resumes", async () => {
    tusServer();
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
        if (String(input).includes("/auth/csrf/")) return Response.json({ csrfToken: "t" });
        if (init.method === "POST") return new Response(null, { status: 201, headers: { Location: "/api/v1/uploads/kept/" } });
        throw new TypeError("offline");
      }),
    );
    const storage = memoryStorage();
    const file = fakeFile(10);
    await expect(uploadFile(file, { storage, retries: 1 })).rejects.toThrow(/dropped/);
    expect(storage.getItem(fingerprint(file))).toBe("/api/v1/uploads/kept/");
  });
});
