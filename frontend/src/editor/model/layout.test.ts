import { afterEach, describe, expect, it, vi } from "vitest";

import type { GraphDocument } from "./document";
import { autoLayout } from "./edits";
import { fromDocument } from "./flow";
import { layoutBoxes, layoutInput, needsLayout } from "./layout";
import { layoutOffThread } from "./layoutClient";
import type { LayoutRequest, LayoutResponse } from "./layoutWorker";

// React Flow places a node by its top-left corner; before measuring, the layout assumes this size.
const WIDTH = 220;
const HEIGHT = 80;

/** A residual block with a side branch, as an import writes it: no positions anywhere. */
const unplaced: GraphDocument = {
  schema_version: 1,
  nodes: [
    { id: "x", type: "image_input", params: {} },
    { id: "conv1", type: "conv2d", params: {} },
    { id: "bn1", type: "batch_norm2d", params: {} },
    { id: "relu1", type: "relu", params: {} },
    { id: "conv2", type: "conv2d", params: {} },
    { id: "shortcut", type: "conv2d", params: { kernel_size: 1 } },
    { id: "add", type: "add", params: {} },
    { id: "pool", type: "adaptive_avg_pool2d", params: {} },
    { id: "flatten", type: "flatten", params: {} },
    { id: "fc", type: "linear", params: {} },
  ],
  edges: [
    ["x", "conv1", "in"], ["conv1", "bn1", "in"], ["bn1", "relu1", "in"], ["relu1", "conv2", "in"],
    ["conv2", "add", "in0"], ["x", "shortcut", "in"], ["shortcut", "add", "in1"],
    ["add", "pool", "in"], ["pool", "flatten", "in"], ["flatten", "fc", "in"],
  ].map(([source, target, port]) => ({ source: source!, source_port: "out", target: target!, target_port: port! })),
};

function laidOut(doc: GraphDocument) {
  const { nodes, edges } = fromDocument(doc);
  return autoLayout({ nodes, edges }).nodes;
}

describe("layout of a document without positions", () => {
  it("is asked for, and not for a placed document", () => {
    expect(needsLayout(unplaced.nodes)).toBe(true);
    const placed = laidOut(unplaced).map((n) => ({ position: n.position }));
    expect(needsLayout(placed)).toBe(false);
    expect(needsLayout([{ position: { x: 5, y: 5 } }, { position: { x: 5, y: 5 } }])).toBe(true);
    expect(needsLayout([{ position: { x: 0, y: 0 } }, {}])).toBe(true);
    expect(needsLayout([{ position: { x: 0, y: 0 } }])).toBe(false);
  });

  it("reads top to bottom: every edge points down and no two nodes overlap", () => {
    const nodes = laidOut(unplaced);
    const at = new Map(nodes.map((n) => [n.id, n.position]));
    for (const edge of unplaced.edges) {
      const source = at.get(edge.source)!;
      const target = at.get(edge.target)!;
      expect(source.y + HEIGHT, `${edge.source} -> ${edge.target}`).toBeLessThan(target.y);
    }
    for (const [i, a] of nodes.entries()) {
      for (const b of nodes.slice(i + 1)) {
        const apart = Math.abs(a.position.x - b.position.x) >= WIDTH || Math.abs(a.position.y - b.position.y) >= HEIGHT;
        expect(apart, `${a.id} overlaps ${b.id}`).toBe(true);
      }
    }
    // The side branch sits beside the main path, not on top of it.
    expect(at.get("shortcut")!.x).not.toBe(at.get("conv1")!.x);
  });
});

describe("layout off the main thread", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("answers the newest request and drops the ones it superseded", async () => {
    // jsdom has no Worker: this one answers each message on a later task, as a worker does.
    const posted: LayoutRequest[] = [];
    class TaskWorker {
      onmessage: ((event: MessageEvent<LayoutResponse>) => void) | null = null;
      onerror: (() => void) | null = null;
      postMessage(request: LayoutRequest) {
        posted.push(request);
        setTimeout(() => this.onmessage?.({ data: { id: request.id, positions: [...layoutBoxes(request.boxes, request.links)] } } as MessageEvent<LayoutResponse>));
      }
    }
    vi.stubGlobal("Worker", TaskWorker);
    const { nodes, edges } = fromDocument(unplaced);
    const { boxes, links } = layoutInput(nodes, edges);
    const first = layoutOffThread(boxes, links);
    const second = layoutOffThread(boxes, links);
    expect(await first).toBeNull();
    const positions = await second;
    expect(positions?.size).toBe(unplaced.nodes.length);
    expect(positions?.get("fc")!.y).toBeGreaterThan(positions!.get("x")!.y);
    expect(posted).toHaveLength(2);
  });
});
