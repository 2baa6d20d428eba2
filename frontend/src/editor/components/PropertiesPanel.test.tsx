import { act, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";

import { issue, layerSpecs, report } from "../../test/layers";
import { resetGraphStore, useGraph } from "../stores/graphStore";
import { useLayers } from "../stores/layersStore";
import { useValidation } from "../stores/validationStore";
import { PropertiesPanel } from "./PropertiesPanel";

describe("PropertiesPanel", () => {
  beforeEach(() => {
    resetGraphStore();
    useValidation.getState().reset();
    useLayers.getState().setLayers(layerSpecs);
  });

  it("offers the selected layer's fix as a button, one undoable edit", async () => {
    const user = userEvent.setup();
    useGraph.getState().addLayer("image_input");
    useGraph.getState().addLayerAfterSelection("conv2d");
    render(<PropertiesPanel />);
    const message = "conv2d 'conv2d_1' input [N,1,2,8] is too small along dim 2";
    act(() =>
      useValidation.getState().setReport(
        report({ ok: false, errors: [issue({ node_id: "conv2d_1", message, fix: { set: { padding: "same" } } })] }),
      ),
    );
    expect(screen.getByText(message)).toBeInTheDocument();
    const button = screen.getByRole("button", { name: "Fix: set padding to same on conv2d_1" });
    expect(button).toHaveTextContent("Set padding to same");
    await user.click(button);
    expect(useGraph.getState().nodes[1]?.data.params.padding).toBe("same");
    act(() => useGraph.getState().undo());
    expect(useGraph.getState().nodes[1]?.data.params.padding).toBe(0);
  });
});
