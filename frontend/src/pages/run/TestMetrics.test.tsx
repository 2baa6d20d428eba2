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

  it("lists Dice and IoU of every class of a segmentation run as numbers", () => {
    const segmentation = {
      ...finished,
      config: { task: "segmentation" },
      plan: { classes: ["background", "lesion"] },
      best_metrics: { dice: 0.8 },
      test_metrics: { dice: 0.8137, iou: 0.7139, pixel_accuracy: 0.99, dice_per_class: [0.9956, 0.7318], iou_per_class: [0.9912, 0.5770] },
    } as unknown as TrainingRun;
    render(<TestMetrics run={segmentation} />);
    const table = screen.getByRole("table", { name: "Dice and IoU per class" });
    const lesion = within(table).getByRole("rowheader", { name: "lesion" }).closest("tr")!;
    expect(within(lesion).getAllByRole("cell").map((c) => c.textContent)).toEqual(["73.18%", "57.70%"]);
    const background = within(table).getByRole("rowheader", { name: "background" }).closest("tr")!;
    expect(within(background).getAllByRole("cell").map((c) => c.textContent)).toEqual(["99.56%", "99.12%"]);
    // The lists stay out of the metrics table, which holds one number per row.
    expect(within(screen.getByRole("table", { name: "Test metrics" })).queryByText(/per class/i)).toBeNull();
  });

  it("leaves a regression run's figures to its own results panel (in the target's units)", () => {
    const regression = { ...finished, config: { task: "regression" }, test_metrics: { mae: 2.5, r2: 0.9 } } as unknown as TrainingRun;
    const { container } = render(<TestMetrics run={regression} />);
    expect(container).toBeEmptyDOMElement();
  });
});
