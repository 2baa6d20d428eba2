import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { PrecisionPanel } from "./PrecisionPanel";
import { precisionReport, worstLayers } from "./precisionReport";

const precision = {
  mode: "dynamic",
  low_dtype: "fp16",
  threshold: 0.01,
  low_precision_flops_share: 0.844,
  probes: 3,
  layers: { fc1: "fp32", bn1: "fp16", fc2: "fp16", out: "fp16" },
  decisions: [
    { step: 1, layer: "fc1", to: "fp32", error: 0, reason: "overflow", detail: "32 values became Inf/NaN in fp16 (finite in fp32; largest |value| 1.2e+05, fp16 holds up to 6.55e+04)" },
    { step: 1, layer: "out", to: "fp32", error: 0.002, reason: "signal", detail: "signal error 0.6 > 10 x threshold 0.01 (relative error only 0.002)" },
    { step: 101, layer: "out", to: "fp16", error: 0.001, reason: "calm", detail: "3 probes in a row under half of every bar" },
  ],
  error_history: [
    { step: 1, errors: { fc1: 0, fc2: 0.003, out: 0.002 }, signal: { fc1: 0, fc2: 0.004, out: 0.6 } },
    { step: 51, errors: { fc1: 0, fc2: 0.002, out: 0.001 }, signal: { fc1: 0, fc2: 0.003, out: 0.02 } },
    { step: 101, errors: { fc1: 0, fc2: 0.002, out: 0.001 }, signal: { fc1: 0, fc2: 0.003, out: 0.01 } },
  ],
};

describe("PrecisionPanel", () => {
  it("plots each layer's errors per probe and lists every decision with its reason", () => {
    render(<PrecisionPanel precision={precision} />);
    expect(screen.getByRole("heading", { name: "Dynamic precision" })).toBeInTheDocument();
    expect(screen.getByTestId("low-flops-share")).toHaveTextContent("84%");
    expect(screen.getByTestId("fp32-layers")).toHaveTextContent("fc1");

    const relative = screen.getByRole("img", { name: "Relative error per probe (log₁₀)" });
    // three layers with three probes each, and the threshold line's two ends
    expect(relative).toHaveAttribute("data-points", "11");
    const signal = screen.getByRole("img", { name: "Signal error per probe (log₁₀)" });
    expect(signal).toHaveAttribute("data-points", "11");
    expect(screen.getByText(/10 × threshold/)).toBeInTheDocument();

    const rows = within(screen.getByRole("table", { name: "Precision decisions" })).getAllByRole("row").slice(1);
    expect(rows.map((row) => row.getAttribute("data-reason"))).toEqual(["overflow", "signal", "calm"]);
    expect(rows[0]).toHaveTextContent(/fc1.*fp32.*overflow \(Inf\/NaN in low precision\).*Inf\/NaN in fp16/);
    expect(rows[2]).toHaveTextContent(/101.*out.*fp16.*calm/);
  });

  it("renders nothing for a run without probes or decisions", () => {
    const { container } = render(<PrecisionPanel precision={{ mode: "fp32", low_dtype: null, probes: 0, decisions: [], layers: {} }} />);
    expect(container).toBeEmptyDOMElement();
    const { container: none } = render(<PrecisionPanel precision={{}} />);
    expect(none).toBeEmptyDOMElement();
  });

  it("reads older reports without reasons and ranks the worst layers first", () => {
    const report = precisionReport({ mode: "dynamic", probes: 1, decisions: [{ step: 5, layer: "c1", to: "fp32", error: 0.3 }] });
    expect(report?.decisions[0]).toMatchObject({ reason: "error", detail: "" });
    expect(worstLayers(precisionReport(precision)!.signal, 2)).toEqual(["out", "fc2"]);
  });
});
