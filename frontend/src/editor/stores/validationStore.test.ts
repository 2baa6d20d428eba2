import { describe, expect, it } from "vitest";

import { issue, report } from "../../test/layers";
import { nodeViews, useValidation } from "./validationStore";

const conv = { type: "conv2d", inputs: {}, outputs: { out: [8, 16, 30, 30] }, dtypes: {}, params: 448, flops: 1000 };

describe("validation store", () => {
  it("puts each problem on its node, and the rest on the graph", () => {
    useValidation.getState().setReport(
      report({
        ok: false,
        nodes: { conv: conv },
        errors: [issue({ node_id: "linear", message: "bad input" }), issue({ node_id: null, code: "cycle", message: "a cycle" })],
        warnings: [issue({ node_id: "conv", code: "suspicious_shape", message: "odd" })],
        edges: [{ source: "image", source_port: "out", target: "conv", target_port: "in", shape: [8, 3, 32, 32] }],
      }),
    );
    const state = useValidation.getState();
    expect(state.nodes.conv).toMatchObject({ outputs: { out: "8×16×30×30" }, params: 448, warnings: [{ message: "odd" }] });
    expect(state.nodes.linear?.errors[0]?.message).toBe("bad input");
    expect(state.nodes.linear?.params).toBeNull();
    expect(state.graphIssues.map((i) => i.message)).toEqual(["a cycle"]);
    expect(state.edgeShapes["image.out->conv.in"]).toBe("8×3×32×32");
  });

  it("keeps unchanged node views identical, so their nodes do not re-render", () => {
    const first = nodeViews(report({ nodes: { conv, other: { ...conv, params: 1 } } }));
    const second = nodeViews(report({ nodes: { conv, other: { ...conv, params: 2 } } }), first);
    expect(second.conv).toBe(first.conv);
    expect(second.other).not.toBe(first.other);
  });
});
