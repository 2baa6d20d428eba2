import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import type { ModelCard } from "../../api/deploy";
import { CallFromCode } from "./CallFromCode";

const lenet: ModelCard = {
  name: "LeNet-5 v1 (run 7)",
  task: "classification",
  classes: ["0", "1"],
  inputs: [{ name: "input", datatype: "FP32", shape: [-1, 1, 32, 32], preprocessing: { input: "image", channels: 1, size: [8, 8], scale: 1 / 255, resize: [32, 32] } }],
  outputs: [],
  metrics: {},
};
const endpoint = "http://localhost:8000/v2/models/digits";

describe("CallFromCode", () => {
  it("shows the recorded preprocessing, then /predict with the raw file, then the tensor call", () => {
    render(<CallFromCode endpoint={endpoint} apiKey="vmb_k" card={lenet} />);

    expect(screen.getByTestId("predict-input")).toHaveTextContent("takes a grey PNG or JPEG, 8×8 as in the dataset");
    const steps = within(screen.getByTestId("preprocessing-steps")).getAllByRole("listitem").map((li) => li.textContent);
    expect(steps).toEqual([
      "decoded and converted to grey (1 channel)",
      "brought to 8×8 as the dataset's images were (bilinear; an image of that size stays as it is)",
      "scaled to 0–1 (pixel ÷ 255)",
      "resized to 32×32 (bilinear), as training did for this model",
    ]);
    const blocks = screen.getAllByRole("button", { name: /^Copy the/ }).map((b) => b.getAttribute("aria-label"));
    expect(blocks).toEqual(["Copy the curl snippet", "Copy the Python snippet", "Copy the curl (tensor) snippet", "Copy the Python (tensor) snippet"]);
    const pre = Array.from(document.querySelectorAll("pre")).map((p) => p.textContent ?? "");
    expect(pre[0]).toBe(`curl -X POST ${endpoint}/predict \\\n  -H "Authorization: Bearer vmb_k" \\\n  -F "file=@image.png;type=image/png"`);
    expect(pre[1]).toContain(`files={"file": ("image.png", f, "image/png")}`);
    expect(pre[2]).toContain(`${endpoint}/infer`);
    expect(pre[2]).toContain('"shape": [1,1,32,32], "datatype": "FP32"');
    expect(pre[3]).toContain("x = np.zeros((1,1,32,32), dtype=np.float32)");
    expect(screen.getByTestId("infer-tensor")).toHaveTextContent("FP32 [N, 1, 32, 32]: N grey images of 8×8 resized to 32×32, scaled to 0–1");
  });

  it("sends a table row as JSON with the dataset's columns", () => {
    const card: ModelCard = {
      ...lenet,
      task: "regression",
      inputs: [{ name: "row", datatype: "FP32", shape: [-1, 2], preprocessing: { input: "table", features: ["a", "b"], encoding: { features: [{ column: "a", kind: "numeric" }, { column: "b", kind: "numeric" }] } } }],
    };
    render(<CallFromCode endpoint={endpoint} apiKey="vmb_k" card={card} />);

    const curl = document.querySelector("pre")?.textContent ?? "";
    expect(curl).toContain(`-d '{"row":{"a":0,"b":0}}'`);
    expect(screen.getByText(/the predicted value/)).toBeInTheDocument();
  });

  it("offers only the tensor call when /predict does not serve the model", () => {
    const card: ModelCard = { ...lenet, inputs: [{ name: "ids", datatype: "INT64", shape: [-1, 64], preprocessing: { input: "text", max_length: 64 } }] };
    render(<CallFromCode endpoint={endpoint} apiKey="vmb_k" card={card} />);

    expect(screen.queryByTestId("predict-input")).not.toBeInTheDocument();
    expect(screen.getByText(/is called with a tensor only/)).toBeInTheDocument();
    expect(document.querySelectorAll("pre")[1]?.textContent).toContain("dtype=np.int64");
  });
});
