import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { RocChart } from "./RocChart";

const perfect = { name: "cat", points: [{ x: 0, y: 0 }, { x: 0, y: 1 }, { x: 1, y: 1 }], auc: 1, color: "#2563eb" };
const guess = { name: "micro average", points: [{ x: 0, y: 0 }, { x: 1, y: 1 }], auc: 0.5, color: "#111827", average: true };

describe("RocChart", () => {
  it("draws each curve on the unit square with its AUC in the legend", () => {
    render(<RocChart title="ROC curve" curves={[perfect, guess]} size={260} />);

    const chart = screen.getByRole("img", { name: "ROC curve" });
    expect(chart).toHaveAttribute("data-curves", "2");
    // Margins: left 40, right 12, top 10, bottom 32 on a 260 square: (0,0) is (40,228), (1,1) is (248,10).
    expect(chart.querySelector('[data-curve="cat"]')).toHaveAttribute("d", "M40.0,228.0 L40.0,10.0 L248.0,10.0");
    expect(chart.querySelector('[data-curve="micro average"]')).toHaveAttribute("stroke-dasharray", "6 3");
    expect(screen.getByTestId("roc-chance")).toHaveAttribute("x2", "248");
    expect(screen.getByText(/cat: AUC 1\.000/)).toBeInTheDocument();
    expect(screen.getByText(/micro average: AUC 0\.500/)).toBeInTheDocument();
  });

  it("says so when there is no curve", () => {
    render(<RocChart title="ROC curve" curves={[]} />);
    expect(screen.getByText("No ROC curve yet.")).toBeInTheDocument();
  });
});
