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
