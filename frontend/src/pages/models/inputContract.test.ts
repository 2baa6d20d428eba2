import { describe, expect, it } from "vitest";

import { describeInput } from "./inputContract";

// As recorded for LeNet-5 trained on the 8×8 digits: the ingest recipe plus the run's resize.
const digits = { input: "image", channels: 1, size: [8, 8], scale: 1 / 255, resize: [32, 32] };

describe("describeInput", () => {
  it("says what an image model takes, how the server preprocesses it, and the tensor", () => {
    const contract = describeInput({ shape: [-1, 1, 32, 32], datatype: "FP32", preprocessing: digits });

    expect(contract.summary).toBe("grey image, 8×8, scaled to 0–1, resized to 32×32 for the model");
    expect(contract.upload).toBe("a grey PNG or JPEG, 8×8 as in the dataset");
    expect(contract.steps).toEqual([
      "decoded and converted to grey (1 channel)",
      "brought to 8×8 as the dataset's images were (bilinear; an image of that size stays as it is)",
      "scaled to 0–1 (pixel ÷ 255)",
      "resized to 32×32 (bilinear), as training did for this model",
    ]);
    expect(contract.tensor).toBe("FP32 [N, 1, 32, 32]: N grey images of 8×8 resized to 32×32, scaled to 0–1");
    expect(contract.request).toEqual({ kind: "file", example: "image.png", contentType: "image/png" });
  });

  it("leaves out a resize the model does not need, and follows the recipe, not a fixed text", () => {
    const contract = describeInput({ shape: [-1, 3, 64, 64], preprocessing: { input: "image", channels: 3, size: [64, 64], resize: [64, 64] } });

    expect(contract.summary).toBe("colour (RGB) image, 64×64, scaled to 0–1");
    expect(contract.upload).toBe("a colour (RGB) PNG or JPEG, 64×64 as in the dataset");
    expect(contract.steps.join(" ")).not.toMatch(/resized to/);
    expect(contract.tensor).toBe("FP32 [N, 3, 64, 64]: N colour (RGB) images of 64×64, scaled to 0–1");
  });

  it("describes CT volumes and slices from the recorded window and shape", () => {
    const recipe = { input: "ct", mode: "3d", volume_shape: [32, 64, 64], spacing: null, window: { preset: "lung", low: -1350, high: 150 } };
    const volume = describeInput({ shape: [-1, 1, 32, 64, 64], preprocessing: recipe });
    expect(volume.upload).toBe("a zip of one DICOM series (.zip) or a NIfTI volume (.nii, .nii.gz)");
    expect(volume.steps).toContain("resampled (trilinear) to 32×64×64 voxels");
    expect(volume.steps).toContain("windowed -1350 to 150 HU (lung window), scaled to 0–1");
    expect(volume.request).toEqual({ kind: "file", example: "scan.nii.gz", contentType: "application/gzip" });

    const slices = describeInput({ shape: [-1, 1, 64, 64], preprocessing: { ...recipe, mode: "2d", spacing: [2, 1, 1] } });
    expect(slices.summary).toBe("CT slices, 64×64 voxels, in Hounsfield units, windowed -1350 to 150 HU (lung window), scaled to 0–1");
    expect(slices.upload).toMatch(/^one DICOM slice \(\.dcm\), or a zip of one DICOM series \(\.zip\) or a NIfTI volume/);
    expect(slices.steps[1]).toBe("resampled (trilinear) to 64×64 voxels at 2×1×1 mm, centre-cropped or padded with air");
    expect(slices.tensor).toMatch(/^FP32 \[N, 1, 64, 64\]: N slices of 64×64 voxels/);
  });

  it("describes a table row by its columns and its encoding", () => {
    const encoding = { features: [{ column: "age", kind: "numeric" }, { column: "sex", kind: "categorical" }], target: { column: "y" } };
    const contract = describeInput({ shape: [-1, 4], preprocessing: { input: "table", features: ["age", "age_missing", "sex=f", "sex=m"], encoding } });

    expect(contract.upload).toBe("a table row as JSON, one value per column of the dataset (2 columns)");
    expect(contract.steps[0]).toMatch(/^numbers standardised/);
    expect(contract.steps[1]).toMatch(/^categories one-hot/);
    expect(contract.steps[2]).toBe("the result: 4 features");
    expect(contract.request).toEqual({ kind: "row", columns: ["age", "sex"] });
  });

  it("offers only the tensor for text and segmentation models", () => {
    expect(describeInput({ shape: [-1, 64], datatype: "INT64", preprocessing: { input: "text", max_length: 64 } }).request).toBeNull();
    const masks = describeInput({ shape: [-1, 1, 32, 32], preprocessing: { input: "image", channels: 1, size: [32, 32] } }, "segmentation");
    expect(masks.upload).toBeNull();
    expect(masks.summary).toBe("grey image, 32×32, scaled to 0–1");
  });
});
