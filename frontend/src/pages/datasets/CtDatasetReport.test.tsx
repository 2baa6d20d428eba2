import { fireEvent, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import type { DatasetVersion } from "../../api/datasets";
import { CtDatasetReport } from "./CtDatasetReport";
import { DeidentificationStatus } from "./ReportSections";
import type { SeriesReport } from "./ctReport";

const series: SeriesReport[] = [
  {
    sample: 0, name: "series 1 (normal)", series: "series-aaa", patient: "patient-111", study: "study-x1", label: "normal",
    slices: 4, spacing_mm: [2.5, 0.6615, 0.6615], thickness_mm: 5, orientation: "axial", hu_range: [-1024, 1167], kvp: 120, warnings: [],
  },
  {
    sample: 1, name: "series 2 (pneumonia)", series: "series-bbb", patient: "patient-222", study: "study-x2", label: "pneumonia",
    slices: 4, spacing_mm: [1.5, 0.6615, 0.6615], thickness_mm: 5, orientation: "oblique axial", hu_range: [-900, 800], kvp: null,
    warnings: [
      { code: "missing_slices", message: "about 1 slice(s) missing", gaps_mm: [[-99.5, 103]] },
      { code: "irregular_spacing", message: "slice positions are irregular", positions_mm: [-99.5, 103, 104.3, 105.5] },
      { code: "gantry_tilt", message: "gantry tilt of 22.0°" },
    ],
  },
];

const version = {
  id: 7,
  stats: { hu_histogram: { counts: [5, 0, 100, 20], edges: [-1100, -450, 200, 850, 1500] }, series },
  recipe: { input: "ct", volume_shape: [8, 32, 24] },
  series,
} as unknown as DatasetVersion;

describe("CtDatasetReport", () => {
  it("lists every series with its metadata, and each warning right under its series", () => {
    render(<CtDatasetReport version={version} />);
    const table = screen.getByRole("table", { name: "Series" });
    const first = within(table).getByRole("row", { name: "series 1 (normal)" });
    expect(first).toHaveTextContent("patient-111");
    expect(first).toHaveTextContent("study-x1");
    expect(first).toHaveTextContent("2.50 × 0.66 × 0.66");
    expect(first).toHaveTextContent("-1024 … 1167");
    expect(first).toHaveTextContent("120");
    expect(screen.getByRole("heading", { name: /Series: 2\s*· 3 warnings in 1 of 2 series/ })).toBeInTheDocument();
    const warned = within(table).getByRole("row", { name: "series 2 (pneumonia)" });
    expect(warned).toHaveTextContent("oblique axial");
    // The warnings sit in the row after their series.
    const rows = within(table).getAllByRole("row");
    const list = within(rows[rows.indexOf(warned) + 1]!).getByRole("list", { name: "Warnings of series 2 (pneumonia)" });
    expect(within(list).getAllByRole("listitem").map((item) => item.dataset.code)).toEqual(["missing_slices", "irregular_spacing", "gantry_tilt"]);
    expect(within(list).getByRole("img", { name: "Slice positions (mm): -99.5, 103, 104.3, 105.5" })).toBeInTheDocument();
    expect(list).toHaveTextContent("Irregular spacing, resampled");
  });

  it("shows three planes whose images follow the preset, the sliders and the chosen series", async () => {
    const user = userEvent.setup();
    render(<CtDatasetReport version={version} />);
    const axial = () => within(screen.getByRole("figure", { name: "Axial plane" })).getByRole("img");
    expect(axial()).toHaveAttribute("src", "/api/v1/dataset-versions/7/samples/0/plane/?plane=axial&slice=4&window=lung&size=256");
    expect(within(screen.getByRole("figure", { name: "Coronal plane" })).getByRole("img").getAttribute("src")).toContain("plane=coronal&slice=16");
    expect(within(screen.getByRole("figure", { name: "Sagittal plane" })).getByRole("img").getAttribute("src")).toContain("plane=sagittal&slice=12");

    await user.click(screen.getByRole("button", { name: /Bone W1800 L400/ }));
    expect(axial().getAttribute("src")).toContain("window=bone");
    expect(screen.getByRole("button", { name: /Bone/ })).toHaveAttribute("aria-pressed", "true");
    expect(screen.getByRole("img", { name: /HU histogram.*Bone window shaded/ })).toBeInTheDocument();

    fireEvent.change(screen.getByRole("slider", { name: /Axial slice/ }), { target: { value: "7" } });
    expect(axial().getAttribute("src")).toContain("slice=7");
    expect(screen.getByText("Axial slice 8 / 8")).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "View series 2 (pneumonia)" }));
    expect(screen.getByRole("heading", { name: /Planes of series 2 \(pneumonia\)/ })).toBeInTheDocument();
    expect(axial().getAttribute("src")).toContain("/samples/1/plane/?plane=axial&slice=4&window=bone");
  });

  it("draws the HU histogram from the stored counts", () => {
    render(<CtDatasetReport version={version} />);
    const chart = screen.getByRole("img", { name: /HU histogram \(125 voxels sampled/ });
    expect(Array.from(chart.querySelectorAll("rect[data-count]")).map((bar) => bar.getAttribute("data-count"))).toEqual(["5", "0", "100", "20"]);
  });
});

describe("DeidentificationStatus", () => {
  it("states the status and the profile of kept copies", () => {
    render(<DeidentificationStatus status={{ originals: "deidentified_copies_kept", profile: "DICOM PS3.15 basic profile (dicognito 0.17)", kept_files: 8, derived: "pixels only" }} />);
    expect(screen.getByText("De-identified copies")).toBeInTheDocument();
    expect(screen.getByText("DICOM PS3.15 basic profile (dicognito 0.17)")).toBeInTheDocument();
    expect(screen.getByText(/8 files/)).toBeInTheDocument();
  });

  it("says nothing identifiable is kept when the originals are deleted", () => {
    render(<DeidentificationStatus status={{ originals: "deleted", profile: "", kept_files: 0, derived: "pixels only" }} />);
    expect(screen.getByText("No identifiable data kept")).toBeInTheDocument();
    expect(screen.getByText(/deleted after the ingest/)).toBeInTheDocument();
  });
});
