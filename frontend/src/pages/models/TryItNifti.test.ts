import { describe, expect, it } from "vitest";

import { busiestSlice, overlaySlice, readNifti } from "./TryItNifti";

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Response(bytes as BodyInit).body!.pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A NIfTI-1 file (.nii bytes) of int16 (datatype 4) or uint8 (2) voxels, x fastest. */
function nifti(dims: [number, number, number], values: number[], datatype = 4, slope = 1, inter = 0): Uint8Array {
  const size = datatype === 4 ? 2 : 1;
  const bytes = new Uint8Array(352 + values.length * size);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, 348, true);
  [3, ...dims, 1, 1, 1, 1].forEach((d, i) => view.setInt16(40 + 2 * i, d, true));
  view.setInt16(70, datatype, true);
  view.setFloat32(108, 352, true);
  view.setFloat32(112, slope, true);
  view.setFloat32(116, inter, true);
  values.forEach((v, i) => (datatype === 4 ? view.setInt16(352 + 2 * i, v, true) : view.setUint8(352 + i, v)));
  return bytes;
}

describe("readNifti", () => {
  it("reads dims, voxels and the scaling, gzipped or not", async () => {
    const values = Array.from({ length: 2 * 3 * 4 }, (_, i) => i - 10);
    const plain = await readNifti(nifti([2, 3, 4], values, 4, 2, -1));
    expect(plain.dims).toEqual([2, 3, 4]);
    expect(Array.from(plain.data.slice(0, 3))).toEqual([-21, -19, -17]);
    const zipped = await readNifti(await gzip(nifti([2, 3, 4], values)));
    expect(zipped.data[23]).toBe(13);
  });

  it("says what is wrong with a file it cannot read", async () => {
    await expect(readNifti(new Uint8Array(10))).rejects.toThrow("too short");
    await expect(readNifti(nifti([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]).slice(0, 360))).rejects.toThrow("shorter than its header");
  });
});

describe("overlay", () => {
  it("picks the slice with the most mask voxels and blends them in red over the windowed volume", async () => {
    // 2x2x3: slice 1 holds two labelled voxels, slice 2 one.
    const mask = await readNifti(nifti([2, 2, 3], [0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0], 2));
    expect(busiestSlice(mask)).toBe(1);
    const volume = await readNifti(nifti([2, 2, 3], Array(12).fill(-600)));
    const pixels = overlaySlice(volume, mask, 1, [-1350, 150], 0.5);
    // -600 HU in the lung window is half grey (127.5); voxel (0, 0) is drawn on the bottom row (y up).
    const bottomLeft = Array.from(pixels.slice(8, 12));
    expect(bottomLeft).toEqual([179, 76, 101, 255]);
    const topLeft = Array.from(pixels.slice(0, 4));
    expect(topLeft).toEqual([128, 128, 128, 255]);
    expect(Array.from(pixels.slice(4, 8))).toEqual([179, 76, 101, 255]); // voxel (1, 1) top right
  });
});
