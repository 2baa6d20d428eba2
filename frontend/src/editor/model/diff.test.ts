import { describe, expect, it } from "vitest";

import { diffDocuments, isEmptyDiff } from "./diff";
import type { GraphDocument } from "./document";

const before: GraphDocument = {
  schema_version: 1,
  nodes: [
    { id: "image", type: "image_input", params: { channels: 3 }, position: { x: 0, y: 0 } },
    { id: "conv", type: "conv2d", params: { out_channels: 16, kernel_size: 3 }, position: { x: 200, y: 0 } },
    { id: "drop", type: "dropout", params: {}, position: { x: 400, y: 0 } },
  ],
  edges: [
    { source: "image", source_port: "out", target: "conv", target_port: "in" },
    { source: "conv", source_port: "out", target: "drop", target_port: "in" },
  ],
};

describe("diffDocuments", () => {
  it("finds added, removed and changed layers and connections", () => {
    const after: GraphDocument = {
      schema_version: 1,
      nodes: [
        { id: "image", type: "image_input", params: { channels: 3 }, position: { x: 50, y: 80 } },
        { id: "conv", type: "conv2d", params: { out_channels: 32, kernel_size: [3, 3] }, position: { x: 200, y: 0 } },
        { id: "relu", type: "relu", params: {}, position: { x: 400, y: 0 } },
      ],
      edges: [
        { source: "image", source_port: "out", target: "conv", target_port: "in" },
        { source: "conv", source_port: "out", target: "relu", target_port: "in" },
      ],
    };
    const diff = diffDocuments(before, after);
    expect(diff.addedNodes.map((n) => n.id)).toEqual(["relu"]);
    expect(diff.removedNodes.map((n) => n.id)).toEqual(["drop"]);
    expect(diff.changedNodes).toEqual([
      {
        id: "conv",
        typeBefore: "conv2d",
        typeAfter: "conv2d",
        labelChanged: false,
        params: [
          { name: "kernel_size", before: 3, after: [3, 3] },
          { name: "out_channels", before: 16, after: 32 },
        ],
      },
    ]);
    expect(diff.addedEdges).toEqual([after.edges[1]]);
    expect(diff.removedEdges).toEqual([before.edges[1]]);
  });

  it("ignores positions: a moved layer is not a change", () => {
    const moved = { ...before, nodes: before.nodes.map((n) => ({ ...n, position: { x: 9, y: 9 } })) };
    expect(isEmptyDiff(diffDocuments(before, moved))).toBe(true);
  });
});
