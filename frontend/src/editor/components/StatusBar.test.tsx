import { act, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";

import { issue, report } from "../../test/layers";
import { useValidation } from "../stores/validationStore";
import { StatusBar } from "./StatusBar";

const memory = (total: number) => ({ weights: 1, gradients: 1, optimizer: 2, activations: total - 4, total });

describe("StatusBar", () => {
  beforeEach(() => {
    useValidation.getState().reset();
    useValidation.setState({ precision: "fp32", batchSize: 32 });
  });

  it("shows totals and the training memory of the chosen precision", async () => {
    const user = userEvent.setup();
    render(<StatusBar />);
    act(() =>
      useValidation.getState().setReport(
        report({ totals: { params: 1_234_567, flops: 5e9, batch_size: 32, memory: { fp32: memory(2 * 1024 ** 3), bf16: memory(1024 ** 3) } } }),
      ),
    );
    expect(screen.getByRole("status")).toHaveTextContent("Valid");
    expect(screen.getByTestId("total-params")).toHaveTextContent("Params 1.23M");
    expect(screen.getByTestId("total-flops")).toHaveTextContent("FLOPs 5.00G");
    expect(screen.getByTestId("total-memory")).toHaveTextContent("2.00 GiB");
    await user.selectOptions(screen.getByLabelText("Precision"), "bf16");
    expect(screen.getByTestId("total-memory")).toHaveTextContent("1.00 GiB");
  });

  it("names every part of a low-precision estimate in its tooltip, autocast's weight copies included", () => {
    render(<StatusBar />);
    const parts = { weights: 4096, gradients: 4096, optimizer: 8192, weight_copies: 2048, activations: 1024, backward_workspace: 512 };
    act(() => {
      useValidation.setState({ precision: "bf16" });
      useValidation.getState().setReport(
        report({ totals: { params: 1024, flops: 1, batch_size: 32, memory: { bf16: { ...parts, total: 19_968 } } } }),
      );
    });
    expect(screen.getByTestId("total-memory")).toHaveAttribute(
      "title",
      "weights 4.00 KiB, gradients 4.00 KiB, optimizer 8.00 KiB, 16-bit weight copies 2.00 KiB, activations 1.00 KiB, backward workspace 512 B",
    );
  });

  it("offers the run config's precisions, fp16 and dynamic included", async () => {
    const user = userEvent.setup();
    render(<StatusBar />);
    const options = screen.getAllByRole("option").map((o) => (o as HTMLOptionElement).value);
    expect(options).toEqual(["fp32", "fp16", "bf16", "dynamic"]);
    act(() =>
      useValidation.getState().setReport(
        report({ totals: { params: 1, flops: 1, batch_size: 32, memory: { fp32: memory(4 * 1024 ** 2), fp16: memory(2 * 1024 ** 2), dynamic: memory(3 * 1024 ** 2) } } }),
      ),
    );
    await user.selectOptions(screen.getByLabelText("Precision"), "fp16");
    expect(screen.getByTestId("total-memory")).toHaveTextContent("2.00 MiB");
    await user.selectOptions(screen.getByLabelText("Precision"), "dynamic");
    expect(screen.getByTestId("total-memory")).toHaveTextContent("3.00 MiB");
  });

  it("counts errors and shows problems that belong to no node", () => {
    render(<StatusBar />);
    act(() =>
      useValidation.getState().setReport(
        report({ ok: false, errors: [issue({ code: "cycle", message: "the graph has a cycle" })], warnings: [issue({ node_id: "x" })] }),
      ),
    );
    expect(screen.getByRole("status")).toHaveTextContent("1 error, 1 warning");
    expect(screen.getByText("the graph has a cycle")).toBeInTheDocument();
  });

  it("changes the batch size on Enter", async () => {
    const user = userEvent.setup();
    render(<StatusBar />);
    await user.clear(screen.getByLabelText("Batch size"));
    await user.type(screen.getByLabelText("Batch size"), "128{Enter}");
    expect(useValidation.getState().batchSize).toBe(128);
  });
});
