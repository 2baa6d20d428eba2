/**
 * What a model takes, in words, generated from the preprocessing its card records (the dataset's
 * ingest recipe plus the resize its run added; see pipelines/serving/preprocess.py, which applies
 * the same recipe on `/predict`). One generator for the model card and for "Call it from code".
 */

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function size(values: unknown): string | null {
  return Array.isArray(values) && values.length > 0 && values.every((v) => typeof v === "number") ? values.join("×") : null;
}

function sameSize(a: unknown, b: unknown): boolean {
  return size(a) !== null && size(a) === size(b);
}

/** How `/predict` is called for this model: a file (its example name and type), a table row, or not at all. */
export type PredictRequest =
  | { kind: "file"; example: string; contentType: string }
  | { kind: "row"; columns: string[] }
  | null;

export interface InputContract {
  /** One line for the model card: "grey image, 8×8, scaled to 0–1, resized to 32×32 for the model". */
  summary: string;
  /** What `/predict` takes, as inputs come in the dataset: "a grey PNG or JPEG, 8×8 as in the dataset"; null: tensors only. */
  upload: string | null;
  /** What the server does to an upload, in order, before the model sees it. */
  steps: string[];
  /** The tensor `/infer` takes from callers who preprocess themselves. */
  tensor: string;
  request: PredictRequest;
  /** What the recipe says the server does NOT do (e.g. imported weights' own normalisation). */
  note?: string;
}

export interface TensorInput {
  shape: number[];
  datatype?: string;
  preprocessing?: Json | null;
}

function scaling(scale: unknown): string {
  if (typeof scale === "number" && Math.abs(scale - 1 / 255) < 1e-9) return "scaled to 0–1 (pixel ÷ 255)";
  if (typeof scale === "number") return `scaled to 0–1 (pixel × ${Number(scale.toPrecision(4))})`;
  return "scaled to 0–1";
}

function tensorShape(shape: number[]): string {
  return `[${shape.map((v, i) => (i === 0 ? "N" : String(v))).join(", ")}]`;
}

function image(p: Json, shape: number[], datatype: string): InputContract {
  const channels = Number(p.channels ?? shape[1] ?? 0);
  const colour = channels === 1 ? "grey" : channels === 3 ? "colour (RGB)" : `${channels}-channel`;
  const recorded = size(p.size);
  const own = recorded ?? size(shape.slice(2));
  const resize = p.resize && !sameSize(p.resize, p.size) ? size(p.resize) : null;
  const summary = [`${colour} image`, ...(own ? [own] : []), "scaled to 0–1", ...(resize ? [`resized to ${resize} for the model`] : [])];
  const upload = `a ${colour} PNG or JPEG${recorded ? `, ${recorded} as in the dataset` : own ? ` (any size; brought to ${own})` : ""}`;
  const steps = [
    `decoded and converted to ${channels === 1 ? "grey (1 channel)" : channels === 3 ? "RGB (3 channels)" : `${channels} channels`}`,
    ...(own ? [`brought to ${own}${recorded ? " as the dataset's images were" : ""} (bilinear; an image of that size stays as it is)`] : []),
    scaling(p.scale),
    ...(resize ? [`resized to ${resize} (bilinear), as training did for this model`] : []),
  ];
  const tensor = `${datatype} ${tensorShape(shape)}: N ${colour} images${own ? ` of ${own}` : ""}${resize ? ` resized to ${resize}` : ""}, scaled to 0–1`;
  return { summary: summary.join(", "), upload, steps, tensor, request: { kind: "file", example: "image.png", contentType: "image/png" } };
}

function ct(p: Json, shape: number[], datatype: string): InputContract {
  const window = isObject(p.window) ? p.window : {};
  const slices = p.mode === "2d";
  const volume = size(p.volume_shape);
  const plane = Array.isArray(p.volume_shape) ? size(p.volume_shape.slice(1)) : null;
  const spacing = size(p.spacing);
  const windowed =
    typeof window.low === "number" && typeof window.high === "number"
      ? `windowed ${window.low} to ${window.high} HU${typeof window.preset === "string" && window.preset !== "custom" ? ` (${window.preset} window)` : ""}, scaled to 0–1`
      : "windowed, scaled to 0–1";
  const summary = [slices ? "CT slices" : "CT volume", ...(volume ? [`${slices && plane ? plane : volume} voxels`] : []), "in Hounsfield units", windowed];
  const upload = slices
    ? "one DICOM slice (.dcm), or a zip of one DICOM series (.zip) or a NIfTI volume (.nii, .nii.gz) whose slices are answered together"
    : "a zip of one DICOM series (.zip) or a NIfTI volume (.nii, .nii.gz)";
  const target = slices ? plane : volume;
  const steps = [
    "read in Hounsfield units (HU) from the file's rescale slope and intercept (a DICOM series: its slices ordered along the normal, as the ingest does)",
    ...(target ? [`resampled (trilinear) to ${target} voxels${spacing ? ` at ${spacing} mm, centre-cropped or padded with air` : ""}`] : []),
    "clipped to the CT range of HU",
    windowed,
    ...(slices ? ["a volume: every slice is classified, the answers averaged"] : []),
  ];
  const tensor = `${datatype} ${tensorShape(shape)}: N ${slices ? "slices" : "volumes"}${target ? ` of ${target} voxels` : ""}, ${windowed}`;
  const request: PredictRequest = slices
    ? { kind: "file", example: "slice.dcm", contentType: "application/dicom" }
    : { kind: "file", example: "scan.nii.gz", contentType: "application/gzip" };
  return { summary: summary.join(", "), upload, steps, tensor, request };
}

function table(p: Json, shape: number[], datatype: string): InputContract {
  const encoding = isObject(p.encoding) ? p.encoding : {};
  const features = Array.isArray(encoding.features) ? encoding.features.filter(isObject) : [];
  const columns = features.map((f) => String(f.column));
  const width = Array.isArray(p.features) ? p.features.length : shape[1];
  const numeric = features.filter((f) => f.kind === "numeric").length;
  const categorical = features.length - numeric;
  const steps = [
    ...(numeric || !features.length ? ["numbers standardised as (x − mean) / std with the training split's statistics; a missing number becomes 0 with a missing flag"] : []),
    ...(categorical || !features.length ? ["categories one-hot over the most common values; others count as “other”"] : []),
    `the result: ${width} features`,
  ];
  return {
    summary: `table row of ${width} features: numbers standardised (x − mean) / std, categories one-hot`,
    upload: columns.length ? `a table row as JSON, one value per column of the dataset (${columns.length} columns)` : "a table row as JSON, one value per column of the dataset",
    steps,
    tensor: `${datatype} ${tensorShape(shape)}: N rows of ${width} encoded features`,
    request: { kind: "row", columns },
  };
}

function text(p: Json, shape: number[], datatype: string): InputContract {
  const parts = ["text as WordPiece token ids"];
  if (typeof p.max_length === "number") parts.push(`up to ${p.max_length} tokens`);
  if (typeof p.vocab_size === "number") parts.push(`vocabulary of ${p.vocab_size}`);
  return { summary: parts.join(", "), upload: null, steps: [], tensor: `${datatype} ${tensorShape(shape)}: N token id sequences, tokenised with the dataset's tokenizer`, request: null };
}

/**
 * The input contract of one model input from its recorded preprocessing. `task` "segmentation"
 * has no `/predict` (its answer is a mask): only the tensor call.
 */
export function describeInput(input: TensorInput, task = "classification"): InputContract {
  const p = input.preprocessing ?? {};
  const datatype = input.datatype ?? "FP32";
  const shape = input.shape;
  // As the server decides (pipelines/serving/preprocess.prepare): the recorded input, else 4-D is an image.
  const source = typeof p.input === "string" && p.input !== "" ? p.input : shape.length === 4 ? "image" : "";
  let contract: InputContract;
  if (source === "image") contract = image(p, shape, datatype);
  else if (source === "ct") contract = ct(p, shape, datatype);
  else if (source === "table") contract = table(p, shape, datatype);
  else if (source === "text") contract = text(p, shape, datatype);
  else {
    const described = shape.length ? `a tensor of shape [${shape.join(", ")}]` : "—";
    contract = { summary: described, upload: null, steps: [], tensor: `${datatype} ${tensorShape(shape)}`, request: null };
  }
  if (typeof p.note === "string" && p.note) contract.note = p.note;
  return task === "segmentation" ? { ...contract, upload: null, request: null } : contract;
}
