import { useState } from "react";

import { PLANES, type Plane, planeUrl, type SeriesReport, WINDOW_PRESETS, type WindowPresetId } from "./ctReport";

const PLANE_NAMES: Record<Plane, string> = { axial: "Axial", coronal: "Coronal", sagittal: "Sagittal" };

/**
 * A series' cached volume cut three ways, each plane with its own slice slider, under one window
 * preset. `shape` is the cached volume's depth, height and width; each slice is one PNG from the
 * server (GET .../plane/), drawn with square millimetres.
 */
export function CtPlanes({ versionId, series, shape, window, onWindow }: {
  versionId: number;
  series: SeriesReport;
  shape: [number, number, number];
  window: WindowPresetId;
  onWindow: (window: WindowPresetId) => void;
}) {
  const sample = series.sample ?? 0;
  const [slices, setSlices] = useState<Record<Plane, number>>(() => ({ axial: Math.floor(shape[0] / 2), coronal: Math.floor(shape[1] / 2), sagittal: Math.floor(shape[2] / 2) }));
  return (
    <section className="ct-planes" aria-labelledby="ct-planes-heading">
      <h3 id="ct-planes-heading">
        Planes of {series.name} <span className="muted">({shape.join(" × ")} voxels as cached)</span>
      </h3>
      <div className="ct-planes__windows" role="group" aria-label="Window preset">
        {WINDOW_PRESETS.map((preset) => (
          <button key={preset.id} type="button" className={`button button--small${preset.id === window ? "" : " button--secondary"}`} aria-pressed={preset.id === window} onClick={() => onWindow(preset.id)}>
            {preset.name} <span className="muted">W{preset.width} L{preset.level}</span>
          </button>
        ))}
      </div>
      <div className="ct-planes__grid">
        {PLANES.map((plane, axis) => {
          const count = shape[axis]!;
          const slice = Math.min(slices[plane], count - 1);
          return (
            <figure key={plane} className="ct-planes__plane" aria-label={`${PLANE_NAMES[plane]} plane`}>
              <div className="ct-planes__image">
                <img src={planeUrl(versionId, sample, plane, { slice, window })} alt={`${series.name}, ${plane} slice ${slice + 1} of ${count}, ${window} window`} />
              </div>
              <figcaption>
                <label>
                  {PLANE_NAMES[plane]} slice {slice + 1} / {count}
                  <input type="range" min={0} max={count - 1} value={slice} onChange={(e) => setSlices((now) => ({ ...now, [plane]: Number(e.target.value) }))} />
                </label>
              </figcaption>
            </figure>
          );
        })}
      </div>
    </section>
  );
}
