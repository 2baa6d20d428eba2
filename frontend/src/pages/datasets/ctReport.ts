import { apiRequest } from "../../api/client";
import type { DatasetVersion } from "../../api/datasets";

import type { Schemas } from "../../api/types";

/**
 * What an ingest reports beyond its counts, as the dataset-version API serves it
 * (`deidentification`, `series`, `split_warnings`) and the split preview of an upload.
 */
export type Deidentification = Schemas["Deidentification"];
export type SeriesWarning = Schemas["SeriesWarning"];
export type SeriesReport = Schemas["SeriesReport"];
export type SplitWarning = Schemas["SplitWarning"];
export type SplitPreview = Schemas["SplitPreview"];

interface VersionReport {
  deidentification: Deidentification | null;
  series: SeriesReport[];
  split_warnings: SplitWarning[];
}

/** The report fields of a version (empty where its kind has none). */
export function versionReport(version: DatasetVersion): VersionReport {
  return { deidentification: version.deidentification ?? null, series: version.series ?? [], split_warnings: version.split_warnings ?? [] };
}

/** How an upload would split with these options, before it is ingested. */
export function previewSplit(dataset: number, upload: string, options: Record<string, unknown>): Promise<SplitPreview> {
  return apiRequest<SplitPreview>(`/api/v1/datasets/${dataset}/split-preview/`, { method: "POST", body: { upload, options } });
}

/** True when the preview says a split would get nothing. */
export function hasEmptySplit(preview: SplitPreview | null): boolean {
  return (preview?.warnings ?? []).some((warning) => warning.split !== "");
}

/** The three planes a CT volume is cut in, as the plane endpoint names them. */
export const PLANES = ["axial", "coronal", "sagittal"] as const;
export type Plane = (typeof PLANES)[number];

/** Window presets as a radiologist names them: width and level in HU (the server's presets). */
export const WINDOW_PRESETS = [
  { id: "lung", name: "Lung", width: 1500, level: -600 },
  { id: "mediastinum", name: "Mediastinum", width: 350, level: 50 },
  { id: "bone", name: "Bone", width: 1800, level: 400 },
  { id: "brain", name: "Brain", width: 80, level: 40 },
] as const;
export type WindowPresetId = (typeof WINDOW_PRESETS)[number]["id"];

/** One slice of a CT sample's volume in a plane, through a window preset, as a PNG. */
export function planeUrl(version: number, sample: number, plane: Plane, options: { slice: number; window: WindowPresetId; size?: number }): string {
  const query = new URLSearchParams({ plane, slice: String(options.slice), window: options.window, size: String(options.size ?? 256) });
  return `/api/v1/dataset-versions/${version}/samples/${sample}/plane/?${query.toString()}`;
}

/** What each series warning means, in a few words. */
export const WARNING_TITLES: Record<SeriesWarning["code"], string> = {
  single_slice: "Single slice, replicated",
  irregular_spacing: "Irregular spacing, resampled",
  missing_slices: "Missing slices",
  mixed_orientation: "Mixed orientation",
  non_axial: "Not axial",
  gantry_tilt: "Gantry tilt",
  no_positions: "No slice positions",
};

/** The cached volume's depth, height and width (the recipe's `volume_shape`), or null. */
export function volumeShape(version: DatasetVersion): [number, number, number] | null {
  const shape = version.recipe?.volume_shape;
  if (!Array.isArray(shape) || shape.length !== 3) return null;
  return [Number(shape[0]), Number(shape[1]), Number(shape[2])];
}
