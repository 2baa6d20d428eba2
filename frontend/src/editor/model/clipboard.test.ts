import { describe, expect, it } from "vitest";

import { CLIPBOARD_STORAGE_KEY, copySelection, parseClipboard, preparePaste, readStoredClipboard, serializeClipboard, writeClipboard } from "./clipboard";
import type { DocEdge, DocNode } from "./document";

const nodes: DocNode[] = [
  { id: "image", type: "image_input", params: {}, position: { x: 0, y: 0 } },
  { id: "conv2d_1", type: "conv2d", params: { out_channels: 8 }, position: { x: 300, y: 0 } },
  { id: "relu_1", type: "relu", params: {}, position: { x: 600, y: 0 } },
];
const edges: DocEdge[] = [
  { source: "image", source_port: "out", target: "conv2d_1", target_port: "in" },
  { source: "conv2d_1", source_port: "out", target: "relu_1", target_port: "in" },
];

describe("clipboard", () => {
  it("copies the selected nodes and only the edges between them", () => {
    const content = copySelection(nodes, edges, new Set(["conv2d_1", "relu_1"]));
    expect(content.nodes.map((n) => n.id)).toEqual(["conv2d_1", "relu_1"]);
    expect(content.edges).toEqual([edges[1]]);
  });

  it("round-trips through text and refuses anything else", () => {
    const content = copySelection(nodes, edges, new Set(["image"]));
    expect(parseClipboard(serializeClipboard(content))).toEqual(content);
    expect(parseClipboard("hello")).toBeNull();
    expect(parseClipboard(JSON.stringify({ kind: "other", nodes: [], edges: [] }))).toBeNull();
    expect(parseClipboard(null)).toBeNull();
  });

  it("pastes with fresh ids that clash with nothing, edges renamed, positions offset", () => {
    const content = copySelection(nodes, edges, new Set(["conv2d_1", "relu_1"]));
    const pasted = preparePaste(content, new Set(nodes.map((n) => n.id)), { x: 40, y: 40 });
    expect(pasted.nodes.map((n) => n.id)).toEqual(["conv2d_2", "relu_2"]);
    expect(pasted.nodes[0]?.position).toEqual({ x: 340, y: 40 });
    expect(pasted.nodes[0]?.params).toEqual({ out_channels: 8 });
    expect(pasted.edges).toEqual([{ source: "conv2d_2", source_port: "out", target: "relu_2", target_port: "in" }]);
  });

  it("goes through localStorage, so another graph (or tab) can paste it", () => {
    const content = copySelection(nodes, edges, new Set(["relu_1"]));
    writeClipboard(content);
    expect(localStorage.getItem(CLIPBOARD_STORAGE_KEY)).toContain("relu_1");
    expect(readStoredClipboard()).toEqual(content);
  });
});
