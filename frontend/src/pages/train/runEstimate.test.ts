import { describe, expect, it } from "vitest";

import { ApiError } from "../../api/client";
import { formatBytes, memoryText, refusalMessages } from "./runEstimate";

describe("runEstimate", () => {
  it("puts the memory estimate against the largest device", () => {
    expect(formatBytes(512 * 2 ** 20)).toBe("512.0 MiB");
    expect(memoryText({ precision: "bf16", estimated_bytes: 2 ** 30, device_bytes: 4 * 2 ** 30 }, 64)).toBe(
      "Training needs about 1.00 GiB at batch size 64 in bf16: 25% of the largest device (4.00 GiB).",
    );
    expect(memoryText({ precision: "fp32", estimated_bytes: 2048, device_bytes: null }, undefined)).toBe(
      "Training needs about 2 KiB in fp32; no worker has reported a device of this kind yet.",
    );
  });

  it("words a refusal by field", () => {
    const error = new ApiError(400, null, { "config.optimizer.lr": ["must be above 0"], graph_version: ["is a draft"] });
    expect(refusalMessages(error)).toEqual(["optimizer.lr: must be above 0", "graph_version: is a draft"]);
  });
});
