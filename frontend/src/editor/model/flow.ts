/** The document as React Flow nodes and edges, and back. */
import type { Edge, Node } from "@xyflow/react";

import type { DocEdge, DocNode, GraphDocument, Params } from "./document";

export interface LayerNodeData extends Record<string, unknown> {
  type: string;
  params: Params;
  label?: string;
}

export type LayerFlowNode = Node<LayerNodeData, "layer">;
export type ShapeFlowEdge = Edge<Record<string, never>, "shape">;

/** What a document carries besides its nodes and edges. */
export interface DocumentMeta {
  name?: string | null;
  inputs?: string[] | null;
  outputs?: string[] | null;
}

/** A stable id per edge: one edge per (target, port), and the source end for readability. */
export function edgeId(edge: DocEdge): string {
  return `${edge.source}.${edge.source_port}->${edge.target}.${edge.target_port}`;
}

export function toFlowNode(node: DocNode, selected = false): LayerFlowNode {
  const data: LayerNodeData = { type: node.type, params: node.params };
  if (node.label) data.label = node.label;
  // An unplaced node starts at the origin; `needsLayout` on its document asks for a layout.
  return { id: node.id, type: "layer", position: { x: node.position?.x ?? 0, y: node.position?.y ?? 0 }, data, selected };
}

export function toFlowEdge(edge: DocEdge, selected = false): ShapeFlowEdge {
  return {
    id: edgeId(edge),
    type: "shape",
    source: edge.source,
    sourceHandle: edge.source_port,
    target: edge.target,
    targetHandle: edge.target_port,
    selected,
  };
}

export function toDocNode(node: LayerFlowNode): DocNode {
  const doc: DocNode = {
    id: node.id,
    type: node.data.type,
    params: node.data.params,
    position: { x: Math.round(node.position.x), y: Math.round(node.position.y) },
  };
  if (node.data.label) doc.label = node.data.label;
  return doc;
}

export function toDocEdge(edge: ShapeFlowEdge): DocEdge {
  return {
    source: edge.source,
    source_port: edge.sourceHandle ?? "out",
    target: edge.target,
    target_port: edge.targetHandle ?? "in",
  };
}

export function fromDocument(doc: GraphDocument): { nodes: LayerFlowNode[]; edges: ShapeFlowEdge[]; meta: DocumentMeta } {
  const meta: DocumentMeta = {};
  if (doc.name != null) meta.name = doc.name;
  if (doc.inputs != null) meta.inputs = doc.inputs;
  if (doc.outputs != null) meta.outputs = doc.outputs;
  return { nodes: doc.nodes.map((n) => toFlowNode(n)), edges: doc.edges.map((e) => toFlowEdge(e)), meta };
}

export function toDocument(nodes: readonly LayerFlowNode[], edges: readonly ShapeFlowEdge[], meta: DocumentMeta): GraphDocument {
  const doc: GraphDocument = { schema_version: 1, nodes: nodes.map(toDocNode), edges: edges.map(toDocEdge) };
  if (meta.name != null) doc.name = meta.name;
  // inputs/outputs name node ids: keep only those still present so a deletion never leaves them dangling.
  const ids = new Set(nodes.map((n) => n.id));
  if (meta.inputs != null) doc.inputs = meta.inputs.filter((id) => ids.has(id));
  if (meta.outputs != null) doc.outputs = meta.outputs.filter((ref) => ids.has(ref.split(":")[0] ?? ""));
  return doc;
}
