import { useEffect, useRef, useState } from "react";

import { ErrorAlert } from "../../components/ErrorAlert";
import { type NiftiVolume, axialSize, axialSlices, busiestSlice, overlaySlice, readNifti } from "./TryItNifti";

interface MaskResult {
  volume: NiftiVolume;
  mask: NiftiVolume;
  slice: number;
  voxels: Record<string, number>;
  download: string;
}

/** The mask file `predict` answers a CT segmentation model with, and its voxel counts (X-Mask-Voxels). */
async function predictMask(endpoint: string, apiKey: string, file: File): Promise<{ bytes: ArrayBuffer; voxels: Record<string, number> }> {
  const form = new FormData();
  form.append("file", file, file.name);
  let response: Response;
  try {
    response = await fetch(`${endpoint}/predict`, { method: "POST", headers: { Authorization: `Bearer ${apiKey}` }, body: form, credentials: "omit" });
  } catch {
    throw new Error("Could not reach the endpoint. Check your connection and try again.");
  }
  if (!response.ok) {
    const answer = (await response.json().catch(() => ({}))) as { error?: string };
    throw new Error(`The endpoint refused it (${response.status}): ${answer.error ?? "no reason given"}`);
  }
  let voxels: Record<string, number> = {};
  try {
    voxels = JSON.parse(response.headers.get("x-mask-voxels") ?? "{}") as Record<string, number>;
  } catch {
    voxels = {};
  }
  return { bytes: await response.arrayBuffer(), voxels };
}

/**
 * "Try it" for a CT segmentation model: send a NIfTI volume to `predict`, draw the axial slice with
 * the most predicted voxels with the mask over it (radiological: the patient's right on the left,
 * as the dataset page shows volumes), and offer the mask (NIfTI) for download.
 */
export function TryItMask({ endpoint, apiKey, onPredicted }: { endpoint: string; apiKey: string; onPredicted: () => void }) {
  const [result, setResult] = useState<MaskResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const canvas = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    const context = result && canvas.current?.getContext("2d");
    if (!result || !context) return;
    const [width, height] = axialSize(result.volume);
    context.putImageData(new ImageData(overlaySlice(result.volume, result.mask, result.slice) as Uint8ClampedArray<ArrayBuffer>, width, height), 0, 0);
  }, [result]);
  useEffect(() => () => void (result && URL.revokeObjectURL(result.download)), [result]);

  const send = async (file: File) => {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      if (!apiKey) throw new Error("Enter the deployment's API key first.");
      const { bytes, voxels } = await predictMask(endpoint, apiKey, file);
      const [volume, mask] = await Promise.all([readNifti(await file.arrayBuffer()), readNifti(bytes)]);
      if (volume.dims.join() !== mask.dims.join()) throw new Error(`The mask is ${mask.dims.join("×")} but the volume ${volume.dims.join("×")}.`);
      if (volume.axes.join() !== mask.axes.join()) throw new Error(`The mask's voxel axes point ${mask.axes.join("")} but the volume's ${volume.axes.join("")}.`);
      const download = URL.createObjectURL(new Blob([bytes], { type: "application/gzip" }));
      setResult({ volume, mask, slice: busiestSlice(mask), voxels, download });
      onPredicted();
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : "The prediction failed.");
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="page__columns">
      <div>
        <label className="field__label" htmlFor="try-mask-file">
          NIfTI volume (.nii, .nii.gz)
        </label>
        <input id="try-mask-file" type="file" accept=".nii,.nii.gz,.gz" disabled={busy} onChange={(e) => e.target.files?.[0] && void send(e.target.files[0])} />
        <ErrorAlert message={error} />
      </div>
      <div>
        {busy && <p role="status">Segmenting…</p>}
        {result && (
          <figure aria-label="Predicted mask" data-testid="predicted-mask">
            <canvas ref={canvas} width={axialSize(result.volume)[0]} height={axialSize(result.volume)[1]} className="try-it__mask" style={{ width: 256, maxWidth: "100%", imageRendering: "pixelated" }} />
            <figcaption>
              Axial slice {result.slice + 1} of {axialSlices(result.volume)} (the patient&apos;s right on the left, anterior at the top), predicted mask in red.{" "}
              {Object.entries(result.voxels)
                .map(([name, count]) => `${name}: ${count.toLocaleString()} voxels`)
                .join(" · ")}{" "}
              <a href={result.download} download="mask.nii.gz">
                Download the mask (NIfTI)
              </a>
            </figcaption>
          </figure>
        )}
      </div>
    </div>
  );
}
