import { describe, expect, it } from "vitest";

import { ApiError } from "../../api/client";
import { explainImportError, explainRefusal } from "./torchvisionRefusals";

describe("explainRefusal", () => {
  it("points at the number of classes when only shapes differ", () => {
    const reason = "m.safetensors does not fit resnet18 with 5 classes: wrong shape (2): fc.bias (10,) (needs (5,)), fc.weight (10, 512) (needs (5, 512))";
    expect(explainRefusal("weights", reason)).toBe(
      `These weights do not fit resnet18 with 5 classes: 2 tensors have the wrong shape. If only the classifier head differs, leave “Number of classes” empty to use the file's. (${reason})`,
    );
  });

  it("counts one missing tensor in the singular", () => {
    const reason = "m.safetensors does not fit resnet18 with 10 classes: missing (1): fc.bias";
    expect(explainRefusal("weights", reason)).toMatch(/^These weights do not fit resnet18 with 10 classes: 1 tensor that resnet18 needs is not in the file\. \(/);
  });

  it("keeps a reason it has no words for as the server wrote it", () => {
    expect(explainRefusal("title", "Ensure this field has no more than 200 characters.")).toBe("Ensure this field has no more than 200 characters.");
    expect(explainRefusal("weights", "The submitted file is empty.")).toBe("The submitted file is empty.");
  });
});

describe("explainImportError", () => {
  it("explains every field and keeps the status and detail", () => {
    const error = ApiError.fromBody(400, { weights: ["x.bin holds no tensors"], project: ["organization visibility needs a project"] });
    const explained = explainImportError(error);
    expect(explained).toBeInstanceOf(ApiError);
    expect((explained as ApiError).status).toBe(400);
    expect((explained as ApiError).fieldErrors).toEqual({
      weights: ["The file holds no tensors. (x.bin holds no tensors)"],
      project: ["Pick the project whose members may see the entry. (organization visibility needs a project)"],
    });
    const other = new Error("boom");
    expect(explainImportError(other)).toBe(other);
  });
});
