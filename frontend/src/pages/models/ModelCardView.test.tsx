import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import type { ModelCard } from "../../api/deploy";
import { ModelCardView } from "./ModelCardView";

const card: ModelCard = {
  name: "digits v1 (run 3)",
  task: "classification",
  classes: ["0", "1"],
  inputs: [{ name: "image", datatype: "FP32", shape: [-1, 1, 8, 8], preprocessing: { input: "image", channels: 1, size: [8, 8], scale: 1 / 255 } }],
  outputs: [],
  metrics: { best: { epoch: 2, accuracy: 0.95, loss: 0.3 }, test: { accuracy: 0.9721, loss: 0.25 } },
  dataset: { name: "digits", version: 4 },
  training_config: { epochs: 3, precision: { precision_mode: "dynamic", threshold: 0.01 } },
};

describe("ModelCardView", () => {
  it("leads with the headline metric, then the input in words and a validation/test table", () => {
    render(<ModelCardView card={card} />);

    expect(screen.getByTestId("headline-metric")).toHaveTextContent("97.21%test accuracy");
    expect(screen.getByTestId("input-contract")).toHaveTextContent("grey image, 8×8, scaled to 0–1");
    const table = screen.getByRole("table", { name: "Metrics" });
    const accuracy = within(table).getByRole("rowheader", { name: "Accuracy" }).closest("tr")!;
    expect(within(accuracy).getAllByRole("cell").map((c) => c.textContent)).toEqual(["95.00%", "97.21%"]);
    expect(screen.getByText(/the best epoch \(3\)/)).toBeInTheDocument();
  });

  it("keeps the training configuration in a closed table, one row per setting", async () => {
    render(<ModelCardView card={card} />);

    const details = screen.getByText("Training configuration").closest("details")!;
    expect(details).not.toHaveAttribute("open");
    await userEvent.click(screen.getByText("Training configuration"));
    const table = within(details).getByRole("table", { name: "Training configuration" });
    const mode = within(table).getByRole("rowheader", { name: "mode" }).closest("tr")!;
    expect(within(mode).getByRole("cell")).toHaveTextContent("dynamic");
    expect(table).not.toHaveTextContent("precision precision mode");
  });

  it("shows a compressed model's own figures and where they were measured", () => {
    render(<ModelCardView card={{ ...card, metrics: { val: { accuracy: 0.94 }, test: { accuracy: 0.9553 }, evaluated: "this model on dataset version 4 (val 200, test 197 samples)" } }} />);

    expect(screen.getByTestId("headline-metric")).toHaveTextContent("95.53%test accuracy");
    expect(screen.getByText(/Measured on this model on dataset version 4/)).toBeInTheDocument();
  });
});
