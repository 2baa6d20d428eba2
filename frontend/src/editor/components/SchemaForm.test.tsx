import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { describe, expect, it, vi } from "vitest";

import type { Params } from "../model/document";
import { layerSpecs } from "../../test/layers";
import { SchemaForm } from "./SchemaForm";

const conv = layerSpecs.find((l) => l.id === "conv2d")!;

function Harness({ onChange, errors }: { onChange: (p: Params) => void; errors?: Record<string, string[]> }) {
  const [value, setValue] = useState<Params>({ out_channels: 16, kernel_size: 3, padding: 0, bias: true, padding_mode: "zeros" });
  return (
    <SchemaForm
      schema={conv.params_schema}
      value={value}
      errors={errors}
      onChange={(next) => {
        setValue(next);
        onChange(next);
      }}
    />
  );
}

describe("SchemaForm", () => {
  it("renders the right widget per type, with help text and defaults", () => {
    render(<Harness onChange={() => undefined} />);
    expect(screen.getByLabelText("Out Channels")).toHaveAttribute("type", "number");
    expect(screen.getByLabelText("Out Channels")).toHaveAttribute("min", "1");
    expect(screen.getByLabelText("Out Channels")).toHaveAccessibleDescription(
      "Number of output channels (filters). Default: 16.",
    );
    expect(screen.getByLabelText("Bias")).toBeChecked();
    expect(screen.getByLabelText("Padding Mode")).toHaveDisplayValue("zeros");
    expect(screen.getByLabelText("Kernel Size: kind of value")).toHaveDisplayValue("one integer");
  });

  it("commits a valid number on Enter, and shows an inline error for an invalid one", async () => {
    const onChange = vi.fn();
    const user = userEvent.setup();
    render(<Harness onChange={onChange} />);
    await user.clear(screen.getByLabelText("Out Channels"));
    await user.type(screen.getByLabelText("Out Channels"), "32{Enter}");
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ out_channels: 32 }));

    await user.clear(screen.getByLabelText("Out Channels"));
    await user.type(screen.getByLabelText("Out Channels"), "0{Enter}");
    expect(screen.getByText("Out Channels must be at least 1")).toBeInTheDocument();
    expect(screen.getByLabelText("Out Channels")).toHaveAttribute("aria-invalid", "true");
    expect(onChange).toHaveBeenCalledTimes(1);
  });

  it("switches an int-or-list parameter to a list and back (anyOf)", async () => {
    const onChange = vi.fn();
    const user = userEvent.setup();
    render(<Harness onChange={onChange} />);
    await user.selectOptions(screen.getByLabelText("Kernel Size: kind of value"), "one per axis (list)");
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ kernel_size: [3, 3] }));
    const list = screen.getByLabelText("Kernel Size");
    expect(list).toHaveValue("3, 3");
    await user.clear(list);
    await user.type(list, "5, 3{Enter}");
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ kernel_size: [5, 3] }));
  });

  it("offers enum alternatives of a union, and booleans apply at once", async () => {
    const onChange = vi.fn();
    const user = userEvent.setup();
    render(<Harness onChange={onChange} />);
    await user.selectOptions(screen.getByLabelText("Padding: kind of value"), "same / valid");
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ padding: "same" }));
    await user.click(screen.getByLabelText("Bias"));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ bias: false }));
  });

  it("shows the server's message under the parameter it names", () => {
    render(<Harness onChange={() => undefined} errors={{ out_channels: ["out_channels must be >= 1"] }} />);
    expect(screen.getByText("out_channels must be >= 1")).toBeInTheDocument();
    expect(screen.getByLabelText("Out Channels")).toHaveAttribute("aria-invalid", "true");
  });
});
