import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { RegressionResults } from "./RegressionResults";
import { formatFigure, regressionResults, targetScaling } from "./regressionResults";

const testMetrics = {
  loss: 152_300_000,
  mae: 9_812.4,
  rmse: 12_341.2,
  r2: 0.93871,
  predicted_vs_actual: { actual: [120_000, 180_000, 240_000, 300_000], predicted: [131_000, 176_500, 251_000, 289_000], total: 200 },
  residual_histogram: { counts: [1, 5, 12, 3], edges: [-30_000, -15_000, 0, 15_000, 30_000] },
};
const plan = { classes: [], target_transform: { kind: "standardize", mean: 201_000, std: 49_500, learnt_on: "train" } };

describe("RegressionResults", () => {
  it("shows the test figures in the target's units, the scatter and the residual histogram", () => {
    render(<RegressionResults testMetrics={testMetrics} plan={plan} />);
    const figures = screen.getByLabelText("Regression metrics");
    expect(within(figures).getByTestId("metric-r2")).toHaveTextContent("0.939");
    expect(within(figures).getByTestId("metric-mae")).toHaveTextContent("9,812");
    expect(within(figures).getByTestId("metric-rmse")).toHaveTextContent("12,340");
    expect(screen.getByText(/standardised target \(mean 201,000, std 49,500/)).toBeInTheDocument();

    const scatter = screen.getByRole("img", { name: "Predicted vs actual (test split, 4 of 200 rows)" });
    expect(scatter).toHaveAttribute("data-points", "4");
    expect(scatter.querySelectorAll("circle")).toHaveLength(4);
    expect(within(scatter).getByTestId("identity-line")).toBeInTheDocument();
    // Both axes share one scale: a perfect prediction would sit on the dashed y = x line.
    const [first] = Array.from(scatter.querySelectorAll("circle"));
    expect(Number(first!.getAttribute("cy"))).toBeLessThan(Number(scatter.querySelector("[data-testid=identity-line]")!.getAttribute("y1")));

    const residuals = screen.getByRole("img", { name: /Residuals, predicted − actual/ });
    expect(residuals).toHaveAttribute("data-bins", "4");
    const bars = Array.from(residuals.querySelectorAll("rect"));
    expect(bars.map((bar) => bar.getAttribute("data-count"))).toEqual(["1", "5", "12", "3"]);
    // The tallest bin is the tallest bar.
    const heights = bars.map((bar) => Number(bar.getAttribute("height")));
    expect(Math.max(...heights)).toBe(heights[2]);
  });

  it("says when the raw target was trained on, and renders nothing for a classifier", () => {
    const { container, rerender } = render(<RegressionResults testMetrics={testMetrics} plan={{ target_transform: null }} />);
    expect(screen.getByText("The network was trained on the raw target.")).toBeInTheDocument();
    rerender(<RegressionResults testMetrics={{ accuracy: 0.9, loss: 0.3 }} plan={{}} />);
    expect(container).toBeEmptyDOMElement();
  });
});

describe("regressionResults", () => {
  it("reads what is there and drops what is malformed", () => {
    expect(regressionResults(null)).toBeNull();
    const partial = regressionResults({ rmse: 3, r2: null, predicted_vs_actual: { actual: [1, 2], predicted: [1] }, residual_histogram: { counts: [1], edges: [0] } });
    expect(partial).toEqual({ r2: null, mae: null, rmse: 3, loss: null, scatter: null, histogram: null });
    expect(targetScaling({ target_transform: { kind: "log", mean: 12.1, std: 0.3 } })).toEqual({ kind: "log", mean: 12.1, std: 0.3 });
    expect(targetScaling({ target_transform: { kind: "minmax", mean: 1, std: 1 } })).toBeNull();
    expect(formatFigure(0.42113)).toBe("0.4211");
    expect(formatFigure(null)).toBe("—");
  });
});
