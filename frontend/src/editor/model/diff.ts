/** What changed between two graph documents: nodes added, removed and changed, edges added and removed. */
import type { DocEdge, DocNode, GraphDocument } from "./document";
import { edgeId } from "./flow";

export interface ParamChange {
  name: string;
  before: unknown;
  after: unknown;
}

export interface NodeChange {
  id: string;
  typeBefore: string;
  typeAfter: string;
  params: ParamChange[];
  labelChanged: boolean;
}

export interface GraphDiff {
  addedNodes: DocNode[];
  removedNodes: DocNode[];
  changedNodes: NodeChange[];
  addedEdges: DocEdge[];
  removedEdges: DocEdge[];
}

export function isEmptyDiff(diff: GraphDiff): boolean {
  return (
    diff.addedNodes.length + diff.removedNodes.length + diff.changedNodes.length + diff.addedEdges.length +
      diff.removedEdges.length ===
    0
  );
}

/** Positions are ignored: moving a node is not a change to the model. */
export function diffDocuments(before: GraphDocument, after: GraphDocument): GraphDiff {
  const oldNodes = new Map(before.nodes.map((n) => [n.id, n]));
  const newNodes = new Map(after.nodes.map((n) => [n.id, n]));
  const changedNodes: NodeChange[] = [];
  for (const [id, next] of newNodes) {
    const prev = oldNodes.get(id);
    if (!prev) continue;
    const params = diffParams(prev.params, next.params);
    const labelChanged = (prev.label ?? "") !== (next.label ?? "");
    if (prev.type !== next.type || params.length > 0 || labelChanged) {
      changedNodes.push({ id, typeBefore: prev.type, typeAfter: next.type, params, labelChanged });
    }
  }
  const oldEdges = new Map(before.edges.map((e) => [edgeId(e), e]));
  const newEdges = new Map(after.edges.map((e) => [edgeId(e), e]));
  return {
    addedNodes: after.nodes.filter((n) => !oldNodes.has(n.id)),
    removedNodes: before.nodes.filter((n) => !newNodes.has(n.id)),
    changedNodes,
    addedEdges: [...newEdges].filter(([id]) => !oldEdges.has(id)).map(([, e]) => e),
    removedEdges: [...oldEdges].filter(([id]) => !newEdges.has(id)).map(([, e]) => e),
  };
}

function diffParams(before: Record<string, unknown>, after: Record<string, unknown>): ParamChange[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return names
    .filter((name) => JSON.stringify(before[name]) !== JSON.stringify(after[name]))
    .map((name) => ({ name, before: before[name], after: after[name] }));
}
