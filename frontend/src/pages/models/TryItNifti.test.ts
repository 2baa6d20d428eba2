import { describe, expect, it } from "vitest";

import { axialSize, axialSlices, axisCodes, busiestSlice, overlaySlice, readNifti } from "./TryItNifti";

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Response(bytes as BodyInit).body!.pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A NIfTI-1 file (.nii bytes) of int16 (datatype 4) or uint8 (2) voxels, x fastest; with ``sform`` (its three rows), sform_code 1. */
function nifti(dims: [number, number, number], values: number[], datatype = 4, slope = 1, inter = 0, sform?: number[][]): Uint8Array {
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
  if (sform) {
    view.setInt16(254, 1, true);
    sform.forEach((row, r) => row.forEach((v, c) => view.setFloat32(280 + 16 * r + 4 * c, v, true)));
  }
  return bytes;
}

/** As ``nifti``, with a qform (code 1) of quaternion (b, c, d) and qfac (pixdim[0]). */
function niftiQform(dims: [number, number, number], values: number[], [b, c, d]: number[], qfac: number): Uint8Array {
  const bytes = nifti(dims, values, 2);
  const view = new DataView(bytes.buffer);
  view.setInt16(252, 1, true);
  view.setFloat32(76, qfac, true);
  [b, c, d].forEach((v, i) => view.setFloat32(256 + 4 * i, v!, true));
  return bytes;
}

/** The RGBA of pixel (column, row) of a ``width``-wide picture. */
const pixel = (pixels: Uint8ClampedArray, width: number, column: number, row: number) => Array.from(pixels.slice(4 * (column + width * row), 4 * (column + width * row) + 4));
const RED = [179, 76, 101, 255]; // -600 HU (half grey in the lung window) blended half with the overlay's red
const GREY = [128, 128, 128, 255];

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

describe("where the voxel axes point", () => {
  it("reads them from the sform, else the qform, and takes a file with neither as RAS", async () => {
    expect((await readNifti(nifti([2, 2, 2], Array(8).fill(0)))).axes).toEqual(["R", "A", "S"]);
    const lps = nifti([2, 2, 2], Array(8).fill(0), 4, 1, 0, [[-0.7, 0, 0, 90], [0, -0.7, 0, 120], [0, 0, 2.5, -40]]);
    expect((await readNifti(lps)).axes).toEqual(["L", "P", "S"]);
    // Quaternion (0, 0, 1): half a turn about S, so i grows to the left and j to posterior; qfac -1 flips k.
    expect((await readNifti(niftiQform([2, 2, 2], Array(8).fill(0), [0, 0, 1], 1))).axes).toEqual(["L", "P", "S"]);
    expect((await readNifti(niftiQform([2, 2, 2], Array(8).fill(0), [0, 0, 1], -1))).axes).toEqual(["L", "P", "I"]);
  });

  it("names the patient axis each voxel axis leans on most, one each, even for an oblique or coronal file", () => {
    // FreeSurfer's conformed layout: i to the left, j to inferior, k to anterior.
    expect(axisCodes([[-1, 0, 0], [0, 0, 1], [0, -1, 0]])).toEqual(["L", "I", "A"]);
    // Tilted 20 degrees about R: j still leans on A, k on S.
    const [c, s] = [Math.cos(0.35), Math.sin(0.35)];
    expect(axisCodes([[1, 0, 0], [0, c, -s], [0, s, c]])).toEqual(["R", "A", "S"]);
  });
});

describe("overlay", () => {
  it("picks the axial slice with the most mask voxels and draws it radiologically: a RAS file's right on the left, anterior at the top", async () => {
    // 2x2x3, RAS (no sform or qform): slice 1 holds voxels (0, 0) and (1, 1), slice 2 one.
    const mask = await readNifti(nifti([2, 2, 3], [0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0], 2));
    expect(busiestSlice(mask)).toBe(1);
    const volume = await readNifti(nifti([2, 2, 3], Array(12).fill(-600)));
    const pixels = overlaySlice(volume, mask, 1, [-1350, 150], 0.5);
    // Voxel (0, 0) is the most right and posterior one: bottom right. Voxel (1, 1): top left.
    expect(pixel(pixels, 2, 1, 1)).toEqual(RED);
    expect(pixel(pixels, 2, 0, 0)).toEqual(RED);
    expect(pixel(pixels, 2, 1, 0)).toEqual(GREY);
    expect(pixel(pixels, 2, 0, 1)).toEqual(GREY);
  });

  it("draws an LPS file (as DICOM stores rows and columns) without reversing it", async () => {
    const lps = [[-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 1, 0]];
    // 3 wide (i, to the left) by 2 high (j, to posterior), 1 slice: voxel (0, 0) is the most right and anterior.
    const mask = await readNifti(nifti([3, 2, 1], [1, 0, 0, 0, 0, 0], 2, 1, 0, lps));
    const volume = await readNifti(nifti([3, 2, 1], Array(6).fill(-600), 4, 1, 0, lps));
    expect(axialSize(volume)).toEqual([3, 2]);
    const pixels = overlaySlice(volume, mask, 0, [-1350, 150], 0.5);
    expect(pixel(pixels, 3, 0, 0)).toEqual(RED);
    expect(pixel(pixels, 3, 2, 1)).toEqual(GREY);
  });

  it("slices a coronally stored file (LIA) across its head-to-foot axis", async () => {
    const lia = [[-1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0]];
    // dims 2 (i: to the left) x 3 (j: to inferior) x 4 (k: to anterior); one voxel labelled at (1, 2, 0).
    const values = Array(24).fill(0);
    values[1 + 2 * (2 + 3 * 0)] = 1;
    const mask = await readNifti(nifti([2, 3, 4], values, 2, 1, 0, lia));
    const volume = await readNifti(nifti([2, 3, 4], Array(24).fill(-600), 4, 1, 0, lia));
    expect(axialSlices(volume)).toBe(3);
    expect(axialSize(volume)).toEqual([2, 4]);
    expect(busiestSlice(mask)).toBe(2);
    const pixels = overlaySlice(volume, mask, 2, [-1350, 150], 0.5);
    // i = 1 is the patient's left: the right-hand column; k = 0 is the most posterior: the bottom row.
    expect(pixel(pixels, 2, 1, 3)).toEqual(RED);
    expect([0, 1, 2].map((row) => pixel(pixels, 2, 1, row))).toEqual([GREY, GREY, GREY]);
  });
});
