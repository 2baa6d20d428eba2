import type { DatasetStats } from "../../api/datasets";

const SPLITS = [
  ["train", "Train"],
  ["val", "Validation"],
  ["test", "Test"],
] as const;

/** The mask statistics a segmentation version's ingest stores (pipelines/datasets/stats.py). */
interface MaskStats {
  pixel_share?: Record<string, number>;
  pixel_counts?: Record<string, number>;
  samples_with_class_per_split?: Record<string, Record<string, number>>;
  split_counts?: Record<string, number>;
}

/**
 * A segmentation set's classes: how many voxels (pixels) of the masks each covers, and how many
 * samples of each split hold any of it (for a CT set, the series with a lesion). A rare class
 * shows as the small share it is (0.029 %), not as 0.0 %.
 */
export function MaskClassShares({ stats, classes: named = [], holders }: { stats: DatasetStats; classes?: readonly string[]; holders: "series" | "samples" }) {
  const { pixel_share: share = {}, pixel_counts: counts = {}, samples_with_class_per_split: present, split_counts: splits = {} } = stats as MaskStats;
  // The version's class order (background first): the stored JSON object does not keep it.
  const classes = [...named.filter((name) => name in share), ...Object.keys(share).filter((name) => !named.includes(name))];
  if (classes.length === 0) return null;
  const unit = (stats.sample_shape?.length ?? 0) >= 4 ? "voxels" : "pixels";
  return (
    <section aria-labelledby="mask-classes-heading">
      <h3 id="mask-classes-heading">Mask classes</h3>
      {present && <p className="muted">Train, Validation, Test: the {holders} of that split with any {unit === "voxels" ? "voxel" : "pixel"} of the class.</p>}
      <table className="table" aria-label="Mask classes">
        <thead>
          <tr>
            <th scope="col">Class</th>
            <th scope="col">Share of {unit}</th>
            <th scope="col">{capitalise(unit)}</th>
            {present &&
              SPLITS.map(([key, name]) => (
                <th scope="col" key={key}>
                  {name}
                </th>
              ))}
          </tr>
        </thead>
        <tbody>
          {classes.map((name) => (
            <tr key={name} data-class={name}>
              <th scope="row">{name}</th>
              <td data-share={share[name]}>{percent(share[name] ?? 0)}</td>
              <td>{counts[name]?.toLocaleString("en-US") ?? "—"}</td>
              {present &&
                SPLITS.map(([key]) => (
                  <td key={key} data-split={key}>
                    {present[key]?.[name] ?? 0} of {splits[key] ?? 0}
                  </td>
                ))}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** "99.97 %", "0.029 %": two significant digits below 1 %, so a rare class never reads 0. */
export function percent(share: number): string {
  const value = share * 100;
  if (value === 0) return "0 %";
  if (value >= 99.995 && share < 1) return `${value.toPrecision(6).replace(/0+$/, "")} %`;
  return `${value >= 1 ? value.toFixed(2) : value.toPrecision(2)} %`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
