import { beforeEach, describe, expect, it } from "vitest";

import { useIngest } from "./ingest";

describe("useIngest", () => {
  beforeEach(() => useIngest.getState().clear());

  it("keeps progress, then the finished status and whether files were skipped", () => {
    const { apply } = useIngest.getState();
    apply({ type: "dataset.progress", version: 5, phase: "decode", done: 3, total: 10 });
    apply({ type: "dataset.finished", version: 5, status: "succeeded", warnings: true, samples: 9, skipped: 1 });
    expect(useIngest.getState().versions[5]).toEqual({ phase: "decode", done: 3, total: 10, status: "succeeded", warnings: true });
  });

  it("ignores a finished event with a status outside the job lifecycle", () => {
    useIngest.getState().apply({ type: "dataset.finished", version: 6, status: "ready" });
    expect(useIngest.getState().versions[6]).toBeUndefined();
  });
});
