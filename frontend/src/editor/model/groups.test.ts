import { describe, expect, it } from "vitest";

import type { LayerFlowNode, ShapeFlowEdge } from "./flow";
import resnet50 from "./fixtures/resnet50.json";
import vit from "./fixtures/vit_b_16.json";
import { FRAME_PREFIX, GROUP_PREFIX, computeGroups, foldedView, openingCollapsed, visibleCount } from "./groups";

interface Slim {
  nodes: { id: string; type: string; label?: string; position: { x: number; y: number } }[];
  edges: { source: string; target: string }[];
}

/** An imported network (fixtures: torchvision models through the app's importer and layout). */
function flow(doc: Slim): { nodes: LayerFlowNode[]; edges: ShapeFlowEdge[] } {
  return {
    nodes: doc.nodes.map((n) => ({
      id: n.id,
      type: "layer",
      position: n.position,
      data: { type: n.type, params: {}, ...(n.label ? { label: n.label } : {}) },
    })),
    edges: doc.edges.map((e, i) => ({ id: `e${i}`, type: "shape", source: e.source, target: e.target, sourceHandle: "out", targetHandle: "in" })),
  };
}

describe("groups of repeated blocks", () => {
  const { nodes, edges } = flow(resnet50 as Slim);
  const groups = computeGroups({ nodes, edges });
  const ids = nodes.map((n) => n.id);

  it("finds ResNet-50's four stages and sixteen blocks, and puts each residual add in its block", () => {
    expect(groups.roots).toEqual(["layer1", "layer2", "layer3", "layer4"]);
    expect(groups.byId.layer3!.children).toHaveLength(6);
    expect(groups.byId["layer1.0"]!.parent).toBe("layer1");
    expect(groups.groupOf.add_3).toBe("layer2.0");
    expect(groups.groupOf.add_4).toBe("layer2.1");
    // The stem and the head lie between blocks: never folded.
    for (const id of ["x", "conv1", "maxpool", "avgpool", "fc"]) expect(groups.groupOf[id]).toBeUndefined();
    // A shortcut's two layers are too few for a group of their own.
    expect(groups.byId["layer1.0.downsample"]).toBeUndefined();
  });

  it("opens with the stages unfolded and their blocks folded: 24 boxes for 176 layers", () => {
    const collapsed = openingCollapsed(groups, ids);
    expect([...collapsed].sort()).toEqual(Object.keys(groups.byId).filter((g) => g.includes(".")).sort());
    expect(visibleCount(groups, collapsed, ids)).toBe(24);
    const view = foldedView(nodes, edges, groups, collapsed);
    const folds = view.nodes.filter((n) => n.type === "fold");
    expect(folds).toHaveLength(16);
    expect(view.nodes.filter((n) => n.type === "groupFrame").map((n) => n.id)).toEqual(
      ["layer1", "layer2", "layer3", "layer4"].map((g) => FRAME_PREFIX + g),
    );
    // Top to bottom, one row per box: the folded graph is short enough for an overview.
    const ys = view.nodes.filter((n) => n.type !== "groupFrame").map((n) => n.position.y).sort((a, b) => a - b);
    expect(new Set(ys).size).toBe(24);
    expect(ys.at(-1)! - ys[0]!).toBeLessThan(24 * 140);
  });

  it("moves the edges of a folded block to its box, once per neighbour, and hides the inner ones", () => {
    const view = foldedView(nodes, edges, groups, new Set(["layer1.0"]));
    const box = GROUP_PREFIX + "layer1.0";
    const into = view.edges.filter((e) => e.target === box);
    const out = view.edges.filter((e) => e.source === box);
    expect(into.map((e) => e.source)).toEqual(["maxpool"]);
    expect(out.map((e) => e.target).sort()).toEqual(["add_1", "layer1_1_conv1"]);
    expect(view.edges.some((e) => e.source === "layer1_0_conv1")).toBe(false);
  });

  it("unfolds in place: layers below a folded band move up by its height and come back", () => {
    const folded = foldedView(nodes, edges, groups, new Set(["layer1.0"]));
    const unfolded = foldedView(nodes, edges, groups, new Set());
    const at = (view: typeof folded, id: string) => view.nodes.find((n) => n.id === id)!.position;
    const members = groups.byId["layer1.0"]!.members.map((id) => nodes.find((n) => n.id === id)!.position.y);
    const band = Math.max(...members) - Math.min(...members);
    expect(at(folded, "fc").y).toBe(at(unfolded, "fc").y - band);
    expect(folded.shift.fc).toBe(band);
    expect(at(folded, "maxpool")).toEqual(at(unfolded, "maxpool"));
    expect(at(unfolded, "fc")).toEqual(nodes.find((n) => n.id === "fc")!.position);
    expect(at(folded, GROUP_PREFIX + "layer1.0").y).toBe(Math.min(...members));
  });

  it("keeps the objects of what an edit did not change, so React Flow re-renders only the edited", () => {
    const collapsed = openingCollapsed(groups, ids);
    const first = foldedView(nodes, edges, groups, collapsed);
    const edited = nodes.map((n) => (n.id === "conv1" ? { ...n, data: { ...n.data, params: { out_channels: 32 } } } : n));
    const second = foldedView(edited, edges, groups, collapsed, first);
    const changed = second.nodes.filter((n, i) => n !== first.nodes[i]).map((n) => n.id);
    expect(changed).toEqual(["conv1"]);
    expect(second.edges.every((e, i) => e === first.edges[i])).toBe(true);
  });

  it("finds a vision transformer's twelve encoder layers", () => {
    const v = flow(vit as Slim);
    const g = computeGroups(v);
    const collapsed = openingCollapsed(g, v.nodes.map((n) => n.id));
    const folds = foldedView(v.nodes, v.edges, g, collapsed).nodes.filter((n) => n.type === "fold");
    expect(folds.map((n) => n.id)).toHaveLength(12);
    expect(folds[0]!.id).toBe(GROUP_PREFIX + "encoder.layers.encoder_layer_0");
    expect(g.groupOf.add_1).toBe("encoder.layers.encoder_layer_0");
  });

  it("leaves a hand-built graph (no module paths) as it is", () => {
    const plain = nodes.slice(0, 5).map((n) => ({ ...n, data: { type: n.data.type, params: {} } }));
    const g = computeGroups({ nodes: plain, edges });
    expect(g.roots).toEqual([]);
    const view = foldedView(plain, edges, g, new Set());
    expect(view.nodes).toBe(plain);
  });
});
