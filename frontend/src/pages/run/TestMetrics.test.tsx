import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import type { TrainingRun } from "../../api/runs";
import { TestMetrics } from "./TestMetrics";

const finished = {
  id: 12,
  config: { epochs: 2, task: "classification" },
  best_metrics: { epoch: 1, accuracy: 0.95, loss: 0.3 },
  test_metrics: { accuracy: 0.9721, loss: 0.25, roc_curve: { classes: [], micro: null } },
} as unknown as TrainingRun;

describe("TestMetrics", () => {
  it("shows the test accuracy large and every metric as numbers", () => {
    render(<TestMetrics run={finished} />);

    expect(screen.getByTestId("run-headline-metric")).toHaveTextContent("97.21%test accuracy");
    const table = screen.getByRole("table", { name: "Test metrics" });
    const loss = within(table).getByRole("rowheader", { name: "Loss" }).closest("tr")!;
    expect(within(loss).getAllByRole("cell").map((c) => c.textContent)).toEqual(["0.3", "0.25"]);
    expect(within(table).queryByText(/roc/i)).toBeNull();
  });

  it("shows Dice for a segmentation run, and nothing before the test split is measured", () => {
    const segmentation = { ...finished, config: { task: "segmentation" }, best_metrics: { dice: 0.7 }, test_metrics: { dice: 0.75, iou: 0.6 } } as unknown as TrainingRun;
    const { unmount } = render(<TestMetrics run={segmentation} />);
    expect(screen.getByTestId("run-headline-metric")).toHaveTextContent("75.00%test Dice");
    unmount();
    const { container } = render(<TestMetrics run={{ ...finished, test_metrics: {} } as TrainingRun} />);
    expect(container).toBeEmptyDOMElement();
  });

  it("leaves a regression run's figures to its own results panel (in the target's units)", () => {
    const regression = { ...finished, config: { task: "regression" }, test_metrics: { mae: 2.5, r2: 0.9 } } as unknown as TrainingRun;
    const { container } = render(<TestMetrics run={regression} />);
    expect(container).toBeEmptyDOMElement();
  });
});
