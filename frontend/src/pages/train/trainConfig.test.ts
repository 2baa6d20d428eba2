import { describe, expect, it } from "vitest";

import { defaultsFor } from "./trainConfig";

describe("defaultsFor", () => {
  it("gives a small dataset a batch of about a tenth of its samples, so an epoch is several steps", () => {
    expect(defaultsFor(undefined, 40).batch_size).toBe("4"); // the chest CT sample: 8 steps an epoch
    expect(defaultsFor(undefined, 120).batch_size).toBe("8");
    expect(defaultsFor(undefined, 12).batch_size).toBe("2");
    expect(defaultsFor(undefined, 569).batch_size).toBe("32");
    expect(defaultsFor(undefined, 1797).batch_size).toBe("32");
  });

  it("keeps the form's batch for large or unknown sizes, and takes the dataset's task", () => {
    expect(defaultsFor(undefined, 60000).batch_size).toBeUndefined();
    expect(defaultsFor(undefined, undefined).batch_size).toBeUndefined();
    expect(defaultsFor("segmentation", 10)).toEqual({ task: "segmentation", loss: "cross_entropy", batch_size: "2" });
  });
});
