import { beforeEach, describe, expect, it } from "vitest";

import { issue, layerSpecs, report } from "../../test/layers";
import { resetGraphStore, selectSingleNodeId, useGraph } from "./graphStore";
import { useLayers } from "./layersStore";
import { useValidation } from "./validationStore";

const g = () => useGraph.getState();
const ids = () => g().nodes.map((n) => n.id);
const wires = () => g().edges.map((e) => `${e.source}.${e.sourceHandle}->${e.target}.${e.targetHandle}`);

function chain(...types: string[]): void {
  for (const type of types) g().addLayerAfterSelection(type);
}

describe("graph store", () => {
  beforeEach(() => {
    resetGraphStore();
    useLayers.getState().setLayers(layerSpecs);
  });

  it("adds layers with default params and Python-identifier ids, wired after the selection", () => {
    chain("image_input", "conv2d", "conv2d");
    expect(ids()).toEqual(["image_input_1", "conv2d_1", "conv2d_2"]);
    expect(wires()).toEqual(["image_input_1.out->conv2d_1.in", "conv2d_1.out->conv2d_2.in"]);
    expect(g().nodes[1]?.data.params).toMatchObject({ out_channels: 16, kernel_size: 3 });
    expect(selectSingleNodeId(g())).toBe("conv2d_2");
    expect(g().toDocument().nodes[1]).toMatchObject({ id: "conv2d_1", type: "conv2d" });
  });

  it("refuses self-loops and a second edge into one input port", () => {
    chain("image_input", "conv2d");
    g().connect({ source: "conv2d_1", sourceHandle: "out", target: "conv2d_1", targetHandle: "in" });
    g().connect({ source: "conv2d_1", sourceHandle: "out", target: "conv2d_1", targetHandle: "in" });
    g().addLayer("image_input");
    g().connect({ source: "image_input_2", sourceHandle: "out", target: "conv2d_1", targetHandle: "in" });
    expect(wires()).toEqual(["image_input_1.out->conv2d_1.in"]);
  });

  it("undoes and redoes every kind of edit", () => {
    chain("image_input", "conv2d");
    g().updateParams("conv2d_1", { ...g().nodes[1]!.data.params, out_channels: 64 });
    g().selectOnly(["image_input_1"]);
    g().removeSelection();
    expect(ids()).toEqual(["conv2d_1"]);
    expect(g().edges).toHaveLength(0);

    g().undo(); // delete
    expect(ids()).toEqual(["image_input_1", "conv2d_1"]);
    expect(g().edges).toHaveLength(1);
    g().undo(); // params
    expect(g().nodes[1]?.data.params.out_channels).toBe(16);
    g().redo();
    expect(g().nodes[1]?.data.params.out_channels).toBe(64);
    g().undo();
    g().undo(); // add conv
    g().undo(); // add input
    expect(ids()).toEqual([]);
    g().redo();
    g().redo();
    expect(ids()).toEqual(["image_input_1", "conv2d_1"]);
  });

  it("records a drag as one step, and a click that moves nothing as none", () => {
    chain("image_input");
    const steps = g().history.past.length;
    g().beginMove();
    g().onNodesChange([{ id: "image_input_1", type: "position", position: { x: 10, y: 10 }, dragging: true }]);
    g().onNodesChange([{ id: "image_input_1", type: "position", position: { x: 50, y: 20 }, dragging: true }]);
    g().endMove();
    expect(g().history.past.length).toBe(steps + 1);
    g().beginMove();
    g().endMove();
    expect(g().history.past.length).toBe(steps + 1);
    g().undo();
    expect(g().nodes[0]?.position).toEqual({ x: 0, y: 0 });
  });

  it("does not re-validate for moves or selection, only for changes to the model", () => {
    chain("image_input");
    const revision = g().revision;
    g().onNodesChange([{ id: "image_input_1", type: "select", selected: false }]);
    g().onNodesChange([{ id: "image_input_1", type: "position", position: { x: 5, y: 5 } }]);
    expect(g().revision).toBe(revision);
    expect(g().dirty).toBe(true);
    chain("conv2d");
    expect(g().revision).toBe(revision + 1);
    g().undo();
    g().undo(); // a keyboard move (no drag) is one step of its own
    expect(g().nodes[0]?.position).toEqual({ x: 0, y: 0 });
  });

  it("applies an insert fix on the edge into the failing port", () => {
    chain("image_input", "conv2d", "linear");
    expect(g().applyFix(issue({ node_id: "linear_1", port: "in", fix: { insert: "flatten" } }))).toBe(true);
    expect(wires()).toEqual(["image_input_1.out->conv2d_1.in", "conv2d_1.out->flatten_1.in", "flatten_1.out->linear_1.in"]);
    g().undo();
    expect(wires()).toEqual(["image_input_1.out->conv2d_1.in", "conv2d_1.out->linear_1.in"]);
  });

  it("applies a set fix with its parameters as one undoable step", () => {
    chain("image_input", "conv2d");
    const steps = g().history.past.length;
    expect(g().applyFix(issue({ node_id: "conv2d_1", fix: { set: { padding: "same" } } }))).toBe(true);
    expect(g().nodes[1]?.data.params.padding).toBe("same");
    expect(g().history.past).toHaveLength(steps + 1);
    g().undo();
    expect(g().nodes[1]?.data.params.padding).toBe(0);
  });

  it("applies an insert fix with parameters as one undoable step", () => {
    chain("image_input", "conv2d", "linear");
    const steps = g().history.past.length;
    g().applyFix(issue({ node_id: "linear_1", port: "in", fix: { insert: "linear", params: { out_features: 12 } } }));
    expect(g().nodes.find((n) => n.id === "linear_2")?.data.params).toEqual({ out_features: 12, bias: true });
    expect(wires()).toContain("linear_2.out->linear_1.in");
    expect(g().history.past).toHaveLength(steps + 1);
    g().undo();
    expect(ids()).toEqual(["image_input_1", "conv2d_1", "linear_1"]);
    expect(wires()).toEqual(["image_input_1.out->conv2d_1.in", "conv2d_1.out->linear_1.in"]);
  });

  it("applies a type fix, keeping the parameters the new type knows", () => {
    chain("image_input", "conv2d");
    g().applyFix(issue({ node_id: "conv2d_1", code: "unknown_type", fix: { type: "linear" } }));
    expect(g().nodes[1]?.data).toMatchObject({ type: "linear", params: { out_features: 64, bias: true } });
  });

  it("drops edges into ports a variadic layer no longer has", () => {
    chain("image_input");
    g().addLayer("add");
    g().updateParams("add_1", { num_inputs: 3 });
    g().connect({ source: "image_input_1", sourceHandle: "out", target: "add_1", targetHandle: "in2" });
    expect(g().edges).toHaveLength(1);
    g().updateParams("add_1", { num_inputs: 2 });
    expect(g().edges).toHaveLength(0);
  });

  it("copies and pastes with fresh ids, the paste selected and undoable", () => {
    chain("image_input", "conv2d");
    g().selectAll();
    const content = g().copy();
    expect(content?.nodes).toHaveLength(2);
    g().pasteContent(content!);
    expect(ids()).toEqual(["image_input_1", "conv2d_1", "image_input_2", "conv2d_2"]);
    expect(wires()).toContain("image_input_2.out->conv2d_2.in");
    expect(g().nodes.filter((n) => n.selected).map((n) => n.id)).toEqual(["image_input_2", "conv2d_2"]);
    g().undo();
    expect(ids()).toEqual(["image_input_1", "conv2d_1"]);
  });

  it("lays out top to bottom", async () => {
    chain("image_input", "conv2d", "linear");
    await g().layout();
    const ys = g().nodes.map((n) => n.position.y);
    expect(ys[0]).toBeLessThan(ys[1]!);
    expect(ys[1]).toBeLessThan(ys[2]!);
    expect(new Set(g().nodes.map((n) => n.position.x)).size).toBe(1);
  });

  it("loads a document as saved, and unplaced nodes get laid out", () => {
    g().load(7, {
      schema_version: 1,
      nodes: [
        { id: "a", type: "image_input", params: {}, position: { x: 0, y: 0 } },
        { id: "b", type: "conv2d", params: {}, position: { x: 0, y: 0 } },
      ],
      edges: [{ source: "a", source_port: "out", target: "b", target_port: "in" }],
    });
    expect(g().dirty).toBe(false);
    expect(g().history.past).toHaveLength(0);
    // A column for now; the layout (in a worker where there is one) then places it top to bottom.
    expect(g().nodes[1]!.position.y).toBeGreaterThan(g().nodes[0]!.position.y);
  });

  it("lays out quietly (no undo step, nothing unsaved), and Auto layout as one undoable step", async () => {
    g().load(7, {
      schema_version: 1,
      nodes: [
        { id: "a", type: "image_input", params: {}, position: { x: 300, y: 0 } },
        { id: "b", type: "conv2d", params: {}, position: { x: 0, y: 0 } },
      ],
      edges: [{ source: "a", source_port: "out", target: "b", target_port: "in" }],
    });
    const revision = g().revision;
    await g().layoutQuietly();
    expect(g().dirty).toBe(false);
    expect(g().history.past).toHaveLength(0);
    expect(g().nodes[1]!.position.y).toBeGreaterThan(g().nodes[0]!.position.y + 80);
    g().onNodesChange([{ type: "position", id: "b", position: { x: 900, y: 900 } }]);
    const steps = g().history.past.length;
    const pending = g().layout();
    expect(g().layoutRunning).toBe(true);
    await pending;
    expect(g().layoutRunning).toBe(false);
    expect(g().history.past).toHaveLength(steps + 1);
    expect(g().nodes[1]!.position.y).toBeLessThan(900);
    expect(g().revision).toBe(revision); // moves are not validated
    g().undo();
    expect(g().nodes[1]!.position).toEqual({ x: 900, y: 900 });
  });

  it("lays out a document without positions on load, unchanged, and saves the positions next time", () => {
    g().load(7, {
      schema_version: 1,
      nodes: [
        { id: "a", type: "image_input", params: {} },
        { id: "b", type: "conv2d", params: {} },
        { id: "c", type: "relu", params: {} },
      ],
      edges: [
        { source: "a", source_port: "out", target: "b", target_port: "in" },
        { source: "b", source_port: "out", target: "c", target_port: "in" },
      ],
    });
    expect(g().dirty).toBe(false);
    expect(g().history.past).toHaveLength(0);
    const saved = g().toDocument().nodes.map((n) => n.position!);
    expect(saved[0]!.y).toBeLessThan(saved[1]!.y);
    expect(saved[1]!.y).toBeLessThan(saved[2]!.y);
  });

  describe("deleting a middle layer", () => {
    /** A report giving every edge of the canvas the shape `shapes[target]`. */
    function shapesByTarget(shapes: Record<string, number[]>): void {
      const edges = g().edges.map((e) => ({
        source: e.source,
        source_port: e.sourceHandle ?? "out",
        target: e.target,
        target_port: e.targetHandle ?? "in",
        shape: shapes[e.target] ?? null,
      }));
      useValidation.getState().setReport(report({ edges }));
    }

    beforeEach(() => useValidation.getState().reset());

    it("joins its neighbours when it keeps the shape, and one undo brings it back with both edges", () => {
      chain("image_input", "conv2d", "dropout", "linear");
      shapesByTarget({ conv2d_1: [1, 3, 8, 8], dropout_1: [1, 16, 6, 6], linear_1: [1, 16, 6, 6] });
      g().selectOnly(["dropout_1"]);
      const steps = g().history.past.length;
      g().removeSelection();
      expect(ids()).toEqual(["image_input_1", "conv2d_1", "linear_1"]);
      expect(wires()).toEqual(["image_input_1.out->conv2d_1.in", "conv2d_1.out->linear_1.in"]);
      expect(g().history.past).toHaveLength(steps + 1);
      g().undo();
      expect(ids()).toEqual(["image_input_1", "conv2d_1", "dropout_1", "linear_1"]);
      expect(wires()).toEqual(["image_input_1.out->conv2d_1.in", "conv2d_1.out->dropout_1.in", "dropout_1.out->linear_1.in"]);
    });

    it("leaves the gap open when the layer changes the shape, or its shapes are not known", () => {
      chain("image_input", "conv2d", "linear");
      shapesByTarget({ conv2d_1: [1, 3, 8, 8], linear_1: [1, 16, 6, 6] });
      g().selectOnly(["conv2d_1"]);
      g().removeSelection();
      expect(wires()).toEqual([]);
      g().undo();
      useValidation.getState().reset();
      g().selectOnly(["conv2d_1"]);
      g().removeSelection();
      expect(wires()).toEqual([]);
    });

    it("leaves the gap open when the server could not infer the shapes (an error upstream)", () => {
      chain("image_input", "dropout", "linear");
      shapesByTarget({});
      g().selectOnly(["dropout_1"]);
      g().removeSelection();
      expect(wires()).toEqual([]);
    });

    it("does not join anything when several layers go at once", () => {
      chain("image_input", "dropout", "dropout", "linear");
      shapesByTarget({ dropout_1: [1, 3, 8, 8], dropout_2: [1, 3, 8, 8], linear_1: [1, 3, 8, 8] });
      g().selectOnly(["dropout_1", "dropout_2"]);
      g().removeSelection();
      expect(wires()).toEqual([]);
    });
  });
});
