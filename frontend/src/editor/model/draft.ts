/** Unsaved work kept in localStorage per graph, so a reload or a crash loses nothing. */
import type { GraphDocument } from "./document";

export interface Draft {
  document: GraphDocument;
  /** The version the draft started from, if any. */
  baseVersionId: number | null;
  savedAt: string;
}

export function draftKey(graphId: number): string {
  return `vmb:draft:graph:${graphId}`;
}

export function writeDraft(graphId: number, draft: Draft): void {
  try {
    localStorage.setItem(draftKey(graphId), JSON.stringify(draft));
  } catch {
    // Quota exceeded or storage disabled: the beforeunload warning still protects the work.
  }
}

export function readDraft(graphId: number): Draft | null {
  try {
    const raw = localStorage.getItem(draftKey(graphId));
    if (!raw) return null;
    const draft = JSON.parse(raw) as Partial<Draft> | null;
    if (!draft?.document || !Array.isArray(draft.document.nodes) || !Array.isArray(draft.document.edges)) return null;
    return { document: draft.document, baseVersionId: draft.baseVersionId ?? null, savedAt: draft.savedAt ?? "" };
  } catch {
    return null;
  }
}

export function clearDraft(graphId: number): void {
  try {
    localStorage.removeItem(draftKey(graphId));
  } catch {
    // Nothing to do.
  }
}

/** Whether two documents describe the same graph (positions included: a move is unsaved work too). */
export function sameDocument(a: GraphDocument, b: GraphDocument): boolean {
  return JSON.stringify(normalize(a)) === JSON.stringify(normalize(b));
}

function normalize(doc: GraphDocument): unknown {
  return {
    nodes: doc.nodes.map((n) => ({ ...n, position: { x: Math.round(n.position?.x ?? 0), y: Math.round(n.position?.y ?? 0) } })),
    edges: doc.edges,
    inputs: doc.inputs ?? null,
    outputs: doc.outputs ?? null,
    name: doc.name ?? null,
  };
}
