import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { ModelCard, ModelVariant, TensorSpec } from "../../api/deploy";
import { TryIt } from "./TryIt";

const ctInput: TensorSpec = { name: "volume", datatype: "FP32", shape: [-1, 1, 8, 16, 16], preprocessing: { input: "ct" } };

function segmenter(): ModelVariant {
  const card: ModelCard = { name: "lesions", task: "segmentation", classes: ["background", "lesion"], inputs: [ctInput], outputs: [], metrics: {} };
  return { id: 5, project: 1, kind: "trained", name: "lesions", run: 2, parent: null, graph_version: 3, status: "succeeded", config: {}, card, report: null, error: null, created_at: "2025-01-01", finished_at: "2025-01-01" };
}

/** A .nii file of uint8 voxels (datatype 2), x fastest. */
function nifti(dims: [number, number, number], values: number[]): Uint8Array {
  const bytes = new Uint8Array(352 + values.length);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, 348, true);
  [3, ...dims, 1, 1, 1, 1].forEach((d, i) => view.setInt16(40 + 2 * i, d, true));
  view.setInt16(70, 2, true);
  view.setFloat32(108, 352, true);
  bytes.set(values, 352);
  return bytes;
}

afterEach(() => vi.unstubAllGlobals());

describe("TryIt for a CT segmentation model", () => {
  it("sends the volume to predict and shows the slice with the most predicted voxels, the counts and a download", async () => {
    const mask = nifti([2, 2, 3], [0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0]);
    const fetchMock = vi.fn(async () => new Response(mask as BodyInit, { status: 200, headers: { "Content-Type": "application/gzip", "X-Mask-Voxels": '{"background": 9, "lesion": 3}' } }));
    vi.stubGlobal("fetch", fetchMock);
    vi.stubGlobal("URL", Object.assign(URL, { createObjectURL: () => "blob:mask", revokeObjectURL: () => undefined }));
    const onPredicted = vi.fn();
    render(<TryIt model={segmenter()} endpoint="/v2/models/lesions" apiKey="secret" onPredicted={onPredicted} />);

    const volume = new File([nifti([2, 2, 3], Array(12).fill(100)) as BlobPart], "scan.nii", { type: "application/octet-stream" });
    await userEvent.upload(screen.getByLabelText("NIfTI volume (.nii, .nii.gz)"), volume);

    const figure = await screen.findByTestId("predicted-mask");
    expect(figure).toHaveTextContent("Axial slice 2 of 3 (the patient's right on the left, anterior at the top), predicted mask in red.");
    expect(figure).toHaveTextContent("background: 9 voxels · lesion: 3 voxels");
    expect(screen.getByRole("link", { name: "Download the mask (NIfTI)" })).toHaveAttribute("href", "blob:mask");
    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/v2/models/lesions/predict");
    expect(new Headers(init.headers).get("Authorization")).toBe("Bearer secret");
    expect(((init.body as FormData).get("file") as File).name).toBe("scan.nii");
    expect(onPredicted).toHaveBeenCalled();
  });

  it("shows the endpoint's refusal", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify({ error: "file: send one NIfTI file" }), { status: 415 })));
    render(<TryIt model={segmenter()} endpoint="/v2/models/lesions" apiKey="secret" onPredicted={() => undefined} />);
    await userEvent.upload(screen.getByLabelText("NIfTI volume (.nii, .nii.gz)"), new File([new Uint8Array(4)], "x.nii"));
    expect(await screen.findByRole("alert")).toHaveTextContent("The endpoint refused it (415): file: send one NIfTI file");
  });
});
