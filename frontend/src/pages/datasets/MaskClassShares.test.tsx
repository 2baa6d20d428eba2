import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import type { DatasetStats } from "../../api/datasets";
import { MaskClassShares, percent } from "./MaskClassShares";

// What the ingest stored for the chest_ct_lesions sample (200 series of 16 x 48 x 48).
const ct: DatasetStats = {
  sample_shape: [1, 16, 48, 48],
  split_counts: { train: 160, val: 20, test: 20 },
  pixel_share: { lesion: 0.000275, background: 0.999725 }, // in the order PostgreSQL's jsonb keeps
  pixel_counts: { background: 7370375, lesion: 2025 },
  samples_with_class_per_split: {
    train: { background: 160, lesion: 79 },
    val: { background: 20, lesion: 9 },
    test: { background: 20, lesion: 10 },
  },
};

describe("MaskClassShares", () => {
  it("shows a rare lesion class's voxel share and the series with a lesion in each split", () => {
    render(<MaskClassShares stats={ct} classes={["background", "lesion"]} holders="series" />);
    const table = screen.getByRole("table", { name: "Mask classes" });
    expect(within(table).getAllByRole("columnheader").map((cell) => cell.textContent)).toEqual([
      "Class", "Share of voxels", "Voxels", "Train", "Validation", "Test",
    ]);
    expect(screen.getByText("Train, Validation, Test: the series of that split with any voxel of the class.")).toBeInTheDocument();
    // Background first, as the version names its classes.
    expect(within(table).getAllByRole("rowheader").map((cell) => cell.textContent)).toEqual(["background", "lesion"]);
    const lesion = within(table).getByRole("row", { name: /^lesion/ });
    expect(within(lesion).getAllByRole("cell").map((cell) => cell.textContent)).toEqual([
      "0.028 %", "2,025", "79 of 160", "9 of 20", "10 of 20",
    ]);
    const background = within(table).getByRole("row", { name: /^background/ });
    expect(background).toHaveTextContent("99.97 %");
    expect(background).toHaveTextContent("7,370,375");
  });

  it("says pixels and samples for 2-D masks, and leaves out split columns an older ingest did not store", () => {
    const stats: DatasetStats = { sample_shape: [3, 64, 64], pixel_share: { background: 0.8, circle: 0.2 }, pixel_counts: { background: 80, circle: 20 } };
    render(<MaskClassShares stats={stats} holders="samples" />);
    const table = screen.getByRole("table", { name: "Mask classes" });
    expect(within(table).getAllByRole("columnheader").map((cell) => cell.textContent)).toEqual(["Class", "Share of pixels", "Pixels"]);
    expect(within(table).getByRole("row", { name: /^circle/ })).toHaveTextContent("20.00 %");
  });

  it("shows nothing for a set without mask statistics", () => {
    const { container } = render(<MaskClassShares stats={{ sample_shape: [1, 8, 8, 8] }} holders="series" />);
    expect(container).toBeEmptyDOMElement();
  });

  it("never rounds a rare class to 0 %", () => {
    expect(percent(0.000275)).toBe("0.028 %");
    expect(percent(0.0000012)).toBe("0.00012 %");
    expect(percent(0)).toBe("0 %");
    expect(percent(0.5)).toBe("50.00 %");
    expect(percent(0.999999)).toBe("99.9999 %");
  });
});
