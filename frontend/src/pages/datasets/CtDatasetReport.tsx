import { useState } from "react";

import type { DatasetVersion } from "../../api/datasets";
import { CtPlanes } from "./CtPlanes";
import { CtSeriesTable } from "./CtSeriesTable";
import { versionReport, volumeShape, type WindowPresetId } from "./ctReport";
import { HuHistogram, type HuHistogramData } from "./HuHistogram";
import "./ctPage.css";

/** A CT version's series table (warnings at their series), HU histogram and the chosen series in three planes. */
export function CtDatasetReport({ version }: { version: DatasetVersion }) {
  const { series } = versionReport(version);
  const [selected, setSelected] = useState<number | undefined>(series.find((entry) => entry.sample !== undefined)?.sample);
  const [window, setWindow] = useState<WindowPresetId>("lung");
  const histogram = version.stats?.hu_histogram as HuHistogramData | undefined;
  const shape = volumeShape(version);
  const shown = series.find((entry) => entry.sample === selected);
  return (
    <div className="ct-report">
      {series.length > 0 && <CtSeriesTable series={series} selected={selected} onView={(entry) => setSelected(entry.sample)} />}
      <div className="ct-report__views">
        {shown && shape && <CtPlanes key={shown.sample} versionId={version.id} series={shown} shape={shape} window={window} onWindow={setWindow} />}
        {histogram && histogram.counts.length > 0 && <HuHistogram histogram={histogram} window={window} />}
      </div>
    </div>
  );
}
