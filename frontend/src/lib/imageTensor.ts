/**
 * An image as the model's input tensor: RGBA pixels (already resized to the input's height and
 * width) to a flat, row-major, channels-first array scaled to [0, 1], like the training loader.
 */
export function pixelsToTensor(rgba: ArrayLike<number>, width: number, height: number, channels: number): number[] {
  const plane = width * height;
  const out = new Array<number>(channels * plane);
  for (let i = 0; i < plane; i += 1) {
    const r = rgba[i * 4]!;
    const g = rgba[i * 4 + 1]!;
    const b = rgba[i * 4 + 2]!;
    if (channels === 1) {
      out[i] = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
    } else {
      out[i] = r / 255;
      out[plane + i] = g / 255;
      out[2 * plane + i] = b / 255;
    }
  }
  return out;
}

/** The input shape for one sample: the contract's shape with the batch (-1) set to 1. */
export function sampleShape(shape: readonly number[]): number[] {
  return shape.map((d, i) => (i === 0 && d < 0 ? 1 : d));
}

/** Probabilities from logits (numerically stable softmax), or the values themselves if they already sum to 1. */
export function probabilities(values: readonly number[]): number[] {
  const sum = values.reduce((a, b) => a + b, 0);
  if (values.every((v) => v >= 0 && v <= 1) && Math.abs(sum - 1) < 1e-3) return [...values];
  const max = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

/** Decodes an image file or URL and draws it at the input's size; returns the tensor. */
export async function imageToTensor(source: Blob | string, shape: readonly number[]): Promise<number[]> {
  const [, channels = 1, height = 1, width = 1] = sampleShape(shape);
  const url = typeof source === "string" ? source : URL.createObjectURL(source);
  try {
    const image = new Image();
    image.src = url;
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext("2d");
    if (!context) throw new Error("This browser cannot read images.");
    context.imageSmoothingEnabled = true;
    context.imageSmoothingQuality = "high";
    context.drawImage(image, 0, 0, width, height);
    return pixelsToTensor(context.getImageData(0, 0, width, height).data, width, height, channels);
  } finally {
    if (typeof source !== "string") URL.revokeObjectURL(url);
  }
}
