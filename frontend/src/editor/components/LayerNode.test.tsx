import { ReactFlow, ReactFlowProvider } from "@xyflow/react";
import { act, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";

import { issue, layerSpecs, report } from "../../test/layers";
import { prepareReactFlow } from "../../test/reactFlow";
import type { LayerFlowNode } from "../model/flow";
import { toFlowNode } from "../model/flow";
import { resetGraphStore, useGraph } from "../stores/graphStore";
import { useLayers } from "../stores/layersStore";
import { useRunOverlay } from "../stores/runOverlayStore";
import { useValidation } from "../stores/validationStore";
import { LayerNode } from "./LayerNode";

const nodeTypes = { layer: LayerNode };

function renderNodes(nodes: LayerFlowNode[]) {
  return render(
    <ReactFlowProvider>
      <div style={{ width: 800, height: 600 }}>
        <ReactFlow nodes={nodes} edges={[]} nodeTypes={nodeTypes} />
      </div>
    </ReactFlowProvider>,
  );
}

describe("LayerNode", () => {
  beforeAll(prepareReactFlow);
  beforeEach(() => {
    resetGraphStore();
    useValidation.getState().reset();
    useLayers.getState().setLayers(layerSpecs);
    useRunOverlay.getState().reset(null);
  });

  it("shows a run's precision and gradient health, and marks the first NaN/Inf layer", () => {
    renderNodes([
      toFlowNode({ id: "conv2d_1", type: "conv2d", params: {}, position: { x: 0, y: 0 } }),
      toFlowNode({ id: "conv2d_2", type: "conv2d", params: {}, position: { x: 300, y: 0 } }),
      toFlowNode({ id: "conv2d_3", type: "conv2d", params: {}, position: { x: 600, y: 0 } }),
    ]);
    expect(screen.queryByTestId("run-conv2d_1")).toBeNull();
    act(() => {
      useRunOverlay.getState().reset(5);
      useRunOverlay.getState().sync(5, [
        { id: 1, type: "run.progress", data: { step: 10, gradients: { conv2d_1: 1, conv2d_2: 1e-6, conv2d_3: 1.2 }, precision: { conv2d_1: "fp32", conv2d_2: "bf16", conv2d_3: "bf16" } } },
        { id: 2, type: "run.nonfinite", data: { step: 12, layer: "conv2d_2" } },
      ]);
    });
    expect(screen.getByTestId("precision-conv2d_1")).toHaveTextContent("fp32");
    expect(screen.getByTestId("precision-conv2d_2")).toHaveTextContent("bf16");
    expect(screen.getByTestId("grad-conv2d_1")).toHaveClass("run-grad--normal");
    expect(screen.getByTestId("grad-conv2d_2")).toHaveTextContent("vanishing");
    expect(screen.getByTestId("node-conv2d_2")).toHaveClass("layer-node--nonfinite");
    expect(within(screen.getByTestId("node-conv2d_2")).getByText("NaN/Inf starts here")).toBeInTheDocument();
    expect(screen.getByTestId("node-conv2d_1")).not.toHaveClass("layer-node--nonfinite");
  });

  it("renders its ports from the registry, variadic ones from num_inputs", () => {
    renderNodes([toFlowNode({ id: "add_1", type: "add", params: { num_inputs: 3 }, position: { x: 0, y: 0 } })]);
    for (const port of ["in0", "in1", "in2"]) expect(screen.getByLabelText(`add_1 input ${port}`)).toBeInTheDocument();
    expect(screen.getByLabelText("add_1 output out")).toBeInTheDocument();
  });

  it("shows the output shape, parameters and FLOPs from the validation report", () => {
    renderNodes([toFlowNode({ id: "conv2d_1", type: "conv2d", params: {}, position: { x: 0, y: 0 } })]);
    act(() =>
      useValidation.getState().setReport(
        report({ nodes: { conv2d_1: { type: "conv2d", inputs: {}, outputs: { out: [8, 16, 30, 30] }, dtypes: {}, params: 448, flops: 3_168_000 } } }),
      ),
    );
    const node = screen.getByTestId("node-conv2d_1");
    expect(within(node).getByTestId("shape-conv2d_1-out")).toHaveTextContent("→ 8×16×30×30");
    expect(within(node).getByText("448 params · 3.17M FLOPs")).toBeInTheDocument();
    expect(node).toHaveAttribute("data-state", "ok");
  });

  it("shows its errors with the message, and applies the suggested fix in one click", async () => {
    const user = userEvent.setup();
    useGraph.getState().addLayer("conv2d");
    useGraph.getState().addLayerAfterSelection("linear");
    renderNodes(useGraph.getState().nodes);
    act(() =>
      useValidation.getState().setReport(
        report({
          ok: false,
          errors: [issue({ node_id: "linear_1", port: "in", message: "linear needs [N,F]", fix: { insert: "flatten" } })],
        }),
      ),
    );
    const node = screen.getByTestId("node-linear_1");
    expect(node).toHaveAttribute("data-state", "error");
    expect(within(node).getByText("linear needs [N,F]")).toBeInTheDocument();
    expect(screen.getByTestId("node-conv2d_1")).toHaveAttribute("data-state", "unknown");
    // React Flow hides nodes until it has measured them, which jsdom never does: find by label.
    await user.click(within(node).getByLabelText("Fix: insert flatten before linear_1"));
    expect(useGraph.getState().nodes.map((n) => n.data.type)).toContain("flatten");
  });
});
