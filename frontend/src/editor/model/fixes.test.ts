import { describe, expect, it } from "vitest";

import { issue, layerSpecs } from "../../test/layers";
import { type Snapshot, addNode, connect } from "./edits";
import { applyFix, fixLabel } from "./fixes";

const lookup = (type: string) => layerSpecs.find((s) => s.id === type);
const wires = (s: Snapshot) => s.edges.map((e) => `${e.source}.${e.sourceHandle}->${e.target}.${e.targetHandle}`);
const params = (s: Snapshot, id: string) => s.nodes.find((n) => n.id === id)?.data.params;

function chain(...types: string[]): Snapshot {
  let s: Snapshot = { nodes: [], edges: [] };
  let last: string | undefined;
  for (const type of types) {
    const added = addNode(s, lookup(type)!, last ? { after: { id: last, port: "out" } } : {});
    s = added.snapshot;
    last = added.id;
  }
  return s;
}

describe("fix words", () => {
  it.each([
    [{ set: { padding: "same" } }, "Set padding to same"],
    [{ set: { kernel_size: [3, 4], padding: 0 } }, "Set kernel_size to [3, 4] and padding to 0"],
    [{ insert: "flatten" }, "Insert Flatten"],
    [{ insert: "flatten", params: { start_dim: 2 } }, "Insert Flatten (from dim 2)"],
    [{ insert: "conv2d", params: { out_channels: 64, kernel_size: 1 } }, "Insert 1×1 conv (64 channels)"],
    [{ insert: "conv3d", params: { out_channels: 8, kernel_size: 1 } }, "Insert 1×1×1 conv (8 channels)"],
    [{ insert: "linear", params: { out_features: 16 } }, "Insert Linear (16 features)"],
    [{ insert: "reshape", params: { shape: [1, 10, 12] } }, "Insert Reshape to [N,1,10,12]"],
    [{ insert: "embedding", params: { num_embeddings: 50 } }, "Insert Embedding (vocabulary 50)"],
    [{ insert: "max_pool2d" }, "Insert Max pool2d"],
    [{ type: "conv2d" }, "Change type to conv2d"],
    [{ rename: "x" }, null],
    [{ set: {} }, null],
  ])("%j reads %j", (fix, words) => {
    expect(fixLabel(issue({ node_id: "n", fix }))).toBe(words);
  });
});

describe("applyFix", () => {
  it("sets parameters of the node at fault, keeping the others", () => {
    const s = chain("image_input", "conv2d");
    const next = applyFix(s, issue({ node_id: "conv2d_1", fix: { set: { padding: "same" } } }), lookup);
    expect(params(next!, "conv2d_1")).toMatchObject({ padding: "same", out_channels: 16, kernel_size: 3 });
    expect(wires(next!)).toEqual(wires(s));
  });

  it("inserts a layer with the suggested parameters on the edge into the failing port", () => {
    let s = chain("image_input", "conv2d", "conv2d");
    const add = addNode(s, lookup("add")!);
    s = connect(add.snapshot, { source: "conv2d_1", sourceHandle: "out", target: "add_1", targetHandle: "in0" });
    s = connect(s, { source: "conv2d_2", sourceHandle: "out", target: "add_1", targetHandle: "in1" });
    const fix = { insert: "conv2d", params: { out_channels: 64, kernel_size: 1 } };
    const next = applyFix(s, issue({ node_id: "add_1", port: "in1", fix }), lookup)!;
    expect(params(next, "conv2d_3")).toMatchObject({ out_channels: 64, kernel_size: 1, padding: 0 });
    expect(wires(next)).toEqual([
      "image_input_1.out->conv2d_1.in",
      "conv2d_1.out->conv2d_2.in",
      "conv2d_1.out->add_1.in0",
      "conv2d_2.out->conv2d_3.in",
      "conv2d_3.out->add_1.in1",
    ]);
  });

  it("inserts in front of an unconnected port", () => {
    const s = chain("linear");
    const next = applyFix(s, issue({ node_id: "linear_1", port: "in", fix: { insert: "flatten" } }), lookup)!;
    expect(wires(next)).toEqual(["flatten_1.out->linear_1.in"]);
  });

  it("joins two edges fed into one port with an inserted add", () => {
    const s = chain("image_input", "linear", "linear");
    // An imported document can hold two edges into one port; the canvas never makes one.
    const extra = { ...s.edges[0]!, id: "extra", target: "linear_2" };
    const next = applyFix({ ...s, edges: [...s.edges, extra] }, issue({ node_id: "linear_2", port: "in", fix: { insert: "add" } }), lookup)!;
    expect(wires(next)).toEqual([
      "image_input_1.out->linear_1.in",
      "linear_1.out->add_1.in0",
      "image_input_1.out->add_1.in1",
      "add_1.out->linear_2.in",
    ]);
  });

  it("changes the type, keeping the parameters the new type knows", () => {
    const s = chain("image_input", "conv2d");
    const next = applyFix(s, issue({ node_id: "conv2d_1", fix: { type: "linear" } }), lookup)!;
    expect(next.nodes[1]?.data).toMatchObject({ type: "linear", params: { out_features: 64, bias: true } });
  });

  it("does nothing for an unknown node, layer type or fix", () => {
    const s = chain("image_input", "conv2d");
    expect(applyFix(s, issue({ node_id: "nope", fix: { insert: "flatten" } }), lookup)).toBeNull();
    expect(applyFix(s, issue({ node_id: "conv2d_1", fix: { insert: "warp_drive" } }), lookup)).toBeNull();
    expect(applyFix(s, issue({ node_id: "conv2d_1", fix: { rename: "x" } }), lookup)).toBeNull();
  });
});
