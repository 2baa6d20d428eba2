/**
 * Just enough NIfTI-1 for "Try it" on a segmentation model: read a volume (gzipped or not) and
 * the predicted mask the endpoint answers, and draw one axial slice of the volume with the mask
 * over it. Voxel (x, y, z) of a NIfTI file is at x + X·(y + Y·z).
 */
export interface NiftiVolume {
  /** [x, y, z] voxels. */
  dims: [number, number, number];
  /** Values after scl_slope / scl_inter, x fastest. */
  data: Float32Array;
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
  return { dims, data };
}

/** The z index with the most voxels of a class other than 0 (the middle slice when the mask is empty). */
export function busiestSlice(mask: NiftiVolume): number {
  const [x, y, z] = mask.dims;
  let best = Math.floor(z / 2);
  let most = 0;
  for (let k = 0; k < z; k++) {
    let count = 0;
    for (let i = k * x * y; i < (k + 1) * x * y; i++) if (mask.data[i]! > 0) count++;
    if (count > most) [best, most] = [k, count];
  }
  return best;
}

/** Lung window, as the CT previews: −1350 to +150 HU. */
export const LUNG_WINDOW: [number, number] = [-1350, 150];
const OVERLAY: [number, number, number] = [230, 25, 75];

/**
 * RGBA pixels of slice ``z`` (x across, y upwards: anterior up for a RAS file, as viewers show it)
 * of ``volume`` through ``window``, with voxels of the mask above 0 blended in red at ``alpha``.
 */
export function overlaySlice(volume: NiftiVolume, mask: NiftiVolume, z: number, window = LUNG_WINDOW, alpha = 0.5): Uint8ClampedArray {
  const [x, y] = volume.dims;
  const [low, high] = window;
  const pixels = new Uint8ClampedArray(x * y * 4);
  for (let row = 0; row < y; row++) {
    const j = y - 1 - row; // RAS: y grows anterior, screens grow down
    for (let i = 0; i < x; i++) {
      const voxel = i + x * (j + y * z);
      const grey = (255 * (volume.data[voxel]! - low)) / (high - low);
      const labelled = (mask.data[voxel] ?? 0) > 0;
      const out = 4 * (i + x * row);
      for (let c = 0; c < 3; c++) pixels[out + c] = labelled ? (1 - alpha) * grey + alpha * OVERLAY[c]! : grey;
      pixels[out + 3] = 255;
    }
  }
  return pixels;
}
