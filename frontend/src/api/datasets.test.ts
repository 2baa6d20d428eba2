import { describe, expect, it } from "vitest";

import { FINISHED_STATUSES, hasWarnings, isUsable, statusText } from "./datasets";

describe("dataset version status (the shared job lifecycle)", () => {
  it("reads each status in words, with the warnings of a succeeded ingest that skipped files", () => {
    expect(statusText("queued", false)).toBe("Queued");
    expect(statusText("running", false)).toBe("Ingesting");
    expect(statusText("succeeded", false)).toBe("Ready");
    expect(statusText("succeeded", true)).toBe("Ready, with warnings");
    expect(statusText("failed", false)).toBe("Failed");
  });

  it("trains on a succeeded version only, warnings or not", () => {
    expect(isUsable("succeeded")).toBe(true);
    expect(["queued", "running", "failed", "cancelled"].map((s) => isUsable(s as "queued"))).toEqual([false, false, false, false]);
    expect([...FINISHED_STATUSES].sort()).toEqual(["cancelled", "failed", "succeeded"]);
  });

  it("takes has_warnings when given, else derives it as the server does", () => {
    expect(hasWarnings({ status: "succeeded", skipped_total: 3 })).toBe(true);
    expect(hasWarnings({ status: "failed", skipped_total: 3 })).toBe(false);
    expect(hasWarnings({ status: "succeeded", skipped_total: 0 })).toBe(false);
    expect(hasWarnings({ status: "succeeded", skipped_total: 3, has_warnings: false })).toBe(false);
  });
});
