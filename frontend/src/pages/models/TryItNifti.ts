/**
 * Just enough NIfTI-1 for "Try it" on a segmentation model: read a volume (gzipped or not) and
 * the predicted mask the endpoint answers, and draw one axial slice of the volume with the mask
 * over it as radiologists look at it (anterior at the top, the patient's right on the left, as the
 * dataset page's previews), whatever way the file's voxel axes point. Voxel (i, j, k) of a NIfTI
 * file is at i + X·(j + Y·k).
 */
export interface NiftiVolume {
  /** [x, y, z] voxels. */
  dims: [number, number, number];
  /** Values after scl_slope / scl_inter, x fastest. */
  data: Float32Array;
  /**
   * Where each voxel axis points in the patient, as nibabel's ``aff2axcodes`` says it: the letter
   * an index grows towards (R or L, A or P, S or I), from the sform, else the qform, else "RAS"
   * (a file with neither).
   */
  axes: [string, string, string];
}

type Matrix = [[number, number, number], [number, number, number], [number, number, number]];

/** The rotation and scaling part of the file's voxel-to-patient affine (RAS+ world, as NIfTI's). */
function directions(view: DataView, little: boolean): Matrix | null {
  const f = (offset: number) => view.getFloat32(offset, little);
  if (view.getInt16(254, little) > 0) {
    return [280, 296, 312].map((o) => [f(o), f(o + 4), f(o + 8)]) as Matrix;
  }
  if (view.getInt16(252, little) > 0) {
    // NIfTI-1's quaternion: b, c, d stored, a = sqrt(1 - b² - c² - d²); qfac = pixdim[0] flips k.
    const [b, c, d] = [f(256), f(260), f(264)];
    const a = Math.sqrt(Math.max(0, 1 - b * b - c * c - d * d));
    const qfac = f(76) < 0 ? -1 : 1;
    return [
      [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), qfac * 2 * (b * d + a * c)],
      [2 * (b * c + a * d), a * a + c * c - b * b - d * d, qfac * 2 * (c * d - a * b)],
      [2 * (b * d - a * c), 2 * (c * d + a * b), qfac * (a * a + d * d - c * c - b * b)],
    ];
  }
  return null;
}

const TOWARDS: [string, string][] = [["R", "L"], ["A", "P"], ["S", "I"]];

/**
 * The letter each voxel axis grows towards: the patient axis (R, A, S) its column of the affine
 * leans on most, taken greedily from the strongest lean down so that no two voxel axes share one.
 */
export function axisCodes(matrix: Matrix | null): [string, string, string] {
  if (!matrix) return ["R", "A", "S"];
  const leans: [number, number, number][] = [];
  for (let axis = 0; axis < 3; axis++) for (let world = 0; world < 3; world++) leans.push([Math.abs(matrix[world]![axis]!), axis, world]);
  leans.sort((p, q) => q[0] - p[0]);
  const codes: string[] = ["", "", ""];
  const taken = new Set<number>();
  for (const [size, axis, world] of leans) {
    if (codes[axis] || taken.has(world) || size === 0) continue;
    codes[axis] = TOWARDS[world]![matrix[world]![axis]! > 0 ? 0 : 1]!;
    taken.add(world);
  }
  // A degenerate affine (a zero column): the axes left over, in order, pointing + (RAS).
  for (let axis = 0; axis < 3; axis++) {
    if (codes[axis]) continue;
    const world = [0, 1, 2].find((w) => !taken.has(w))!;
    codes[axis] = TOWARDS[world]![0]!;
    taken.add(world);
  }
  return codes as [string, string, string];
}

const READERS: Record<number, [number, (view: DataView, offset: number, little: boolean) => number]> = {
  2: [1, (v, o) => v.getUint8(o)],
  4: [2, (v, o, l) => v.getInt16(o, l)],
  8: [4, (v, o, l) => v.getInt32(o, l)],
  16: [4, (v, o, l) => v.getFloat32(o, l)],
  64: [8, (v, o, l) => v.getFloat64(o, l)],
  256: [1, (v, o) => v.getInt8(o)],
  512: [2, (v, o, l) => v.getUint16(o, l)],
  768: [4, (v, o, l) => v.getUint32(o, l)],
};

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const stream = new Response(bytes as BodyInit).body!.pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A NIfTI-1 volume from a file's bytes; throws an Error saying what is wrong. */
export async function readNifti(raw: ArrayBuffer | Uint8Array): Promise<NiftiVolume> {
  const bytes = await gunzip(raw instanceof Uint8Array ? raw : new Uint8Array(raw));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 352) throw new Error("Not a NIfTI file: too short.");
  const little = view.getInt32(0, true) === 348;
  if (!little && view.getInt32(0, false) !== 348) throw new Error("Not a NIfTI-1 file.");
  const dims: [number, number, number] = [1, 2, 3].map((i) => Math.max(1, view.getInt16(40 + 2 * i, little))) as [number, number, number];
  const reader = READERS[view.getInt16(70, little)];
  if (!reader) throw new Error(`NIfTI datatype ${view.getInt16(70, little)} is not supported here.`);
  const [size, read] = reader;
  const start = Math.max(352, Math.round(view.getFloat32(108, little)));
  const slopeRaw = view.getFloat32(112, little);
  const slope = slopeRaw === 0 || !Number.isFinite(slopeRaw) ? 1 : slopeRaw;
  const interRaw = view.getFloat32(116, little);
  const inter = Number.isFinite(interRaw) ? interRaw : 0;
  const count = dims[0] * dims[1] * dims[2];
  if (start + count * size > bytes.byteLength) throw new Error("The NIfTI file is shorter than its header says.");
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = read(view, start + i * size, little) * slope + inter;
  return { dims, data, axes: axisCodes(directions(view, little)) };
}

/**
 * How an axial slice of ``volume`` is drawn: the voxel axis running head to foot (the slices), the
 * one across the screen and the one down it, and whether each of those two is drawn reversed, so
 * that the patient's right is on the left and anterior at the top.
 */
export interface AxialView {
  slices: number;
  across: number;
  down: number;
  reverseAcross: boolean;
  reverseDown: boolean;
}

export function axialView(volume: Pick<NiftiVolume, "axes">): AxialView {
  const find = (letters: string) => volume.axes.findIndex((code) => letters.includes(code));
  const across = find("RL");
  const down = find("AP");
  // Across the screen runs from the patient's right to left; down it, from anterior to posterior.
  return { slices: find("SI"), across, down, reverseAcross: volume.axes[across] === "R", reverseDown: volume.axes[down] === "A" };
}

/** The flat index of voxel (i, j, k). */
function voxelAt(dims: [number, number, number], index: number[]): number {
  return index[0]! + dims[0] * (index[1]! + dims[1] * index[2]!);
}

/** Width and height of the axial slices drawn (voxels across and down). */
export function axialSize(volume: NiftiVolume): [number, number] {
  const view = axialView(volume);
  return [volume.dims[view.across]!, volume.dims[view.down]!];
}

/** How many axial slices ``volume`` has. */
export function axialSlices(volume: NiftiVolume): number {
  return volume.dims[axialView(volume).slices]!;
}

/** The axial slice (index along the head-to-foot voxel axis) with the most voxels of a class other than 0; the middle one when the mask is empty. */
export function busiestSlice(mask: NiftiVolume): number {
  const axis = axialView(mask).slices;
  const counts = new Array<number>(mask.dims[axis]!).fill(0);
  const [x, y] = mask.dims;
  for (let i = 0; i < mask.data.length; i++) {
    if (!(mask.data[i]! > 0)) continue;
    counts[axis === 0 ? i % x : axis === 1 ? Math.floor(i / x) % y : Math.floor(i / (x * y))]! += 1;
  }
  let best = Math.floor(counts.length / 2);
  let most = 0;
  counts.forEach((count, k) => {
    if (count > most) [best, most] = [k, count];
  });
  return best;
}

/** Lung window, as the CT previews: −1350 to +150 HU. */
export const LUNG_WINDOW: [number, number] = [-1350, 150];
const OVERLAY: [number, number, number] = [230, 25, 75];

/**
 * RGBA pixels of axial slice ``slice`` of ``volume`` (``axialSize`` wide and high; the patient's
 * right on the left, anterior at the top) through ``window``, with voxels of the mask (on the
 * volume's grid) above 0 blended in red at ``alpha``.
 */
export function overlaySlice(volume: NiftiVolume, mask: NiftiVolume, slice: number, window = LUNG_WINDOW, alpha = 0.5): Uint8ClampedArray {
  const view = axialView(volume);
  const [width, height] = axialSize(volume);
  const [low, high] = window;
  const pixels = new Uint8ClampedArray(width * height * 4);
  const index = [0, 0, 0];
  index[view.slices] = slice;
  for (let row = 0; row < height; row++) {
    index[view.down] = view.reverseDown ? height - 1 - row : row;
    for (let column = 0; column < width; column++) {
      index[view.across] = view.reverseAcross ? width - 1 - column : column;
      const voxel = voxelAt(volume.dims, index);
      const grey = (255 * (volume.data[voxel]! - low)) / (high - low);
      const labelled = (mask.data[voxel] ?? 0) > 0;
      const out = 4 * (column + width * row);
      for (let c = 0; c < 3; c++) pixels[out + c] = labelled ? (1 - alpha) * grey + alpha * OVERLAY[c]! : grey;
      pixels[out + 3] = 255;
    }
  }
  return pixels;
}
