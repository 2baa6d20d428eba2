/**
 * Copy and paste of a selection, also between graphs and tabs: the clipboard text is JSON with a
 * marker, mirrored into localStorage because reading the system clipboard needs a permission.
 */
import { type DocEdge, type DocNode, nextNodeId } from "./document";

export const CLIPBOARD_KIND = "vmb-graph-clipboard";
export const CLIPBOARD_STORAGE_KEY = "vmb:clipboard";

export interface ClipboardContent {
  kind: typeof CLIPBOARD_KIND;
  version: 1;
  nodes: DocNode[];
  edges: DocEdge[];
}

/** The selected nodes and the edges between them (edges to unselected nodes stay behind). */
export function copySelection(nodes: readonly DocNode[], edges: readonly DocEdge[], selected: ReadonlySet<string>): ClipboardContent {
  return {
    kind: CLIPBOARD_KIND,
    version: 1,
    nodes: nodes.filter((n) => selected.has(n.id)).map((n) => structuredClone(n)),
    edges: edges.filter((e) => selected.has(e.source) && selected.has(e.target)).map((e) => ({ ...e })),
  };
}

export function serializeClipboard(content: ClipboardContent): string {
  return JSON.stringify(content);
}

/** The clipboard content in `text`, or null when it is something else (plain text, junk). */
export function parseClipboard(text: string | null | undefined): ClipboardContent | null {
  if (!text) return null;
  try {
    const value = JSON.parse(text) as Partial<ClipboardContent> | null;
    if (value?.kind !== CLIPBOARD_KIND || !Array.isArray(value.nodes) || !Array.isArray(value.edges)) return null;
    const nodes = value.nodes.filter(
      (n): n is DocNode => typeof n?.id === "string" && typeof n.type === "string" && typeof n.params === "object",
    );
    return { kind: CLIPBOARD_KIND, version: 1, nodes, edges: value.edges };
  } catch {
    return null;
  }
}

/**
 * Fresh ids for pasted nodes (so they never clash with `taken`), edges renamed to match, and
 * positions moved by `offset` so a paste is visible next to what was copied.
 */
export function preparePaste(
  content: ClipboardContent,
  taken: ReadonlySet<string>,
  offset: { x: number; y: number },
): { nodes: DocNode[]; edges: DocEdge[] } {
  const used = new Set(taken);
  const rename = new Map<string, string>();
  const nodes = content.nodes.map((node) => {
    const id = nextNodeId(node.type, used);
    used.add(id);
    rename.set(node.id, id);
    const x = (node.position?.x ?? 0) + offset.x;
    const y = (node.position?.y ?? 0) + offset.y;
    return { ...structuredClone(node), id, position: { x, y } };
  });
  const edges = content.edges.flatMap((edge) => {
    const source = rename.get(edge.source);
    const target = rename.get(edge.target);
    return source && target ? [{ ...edge, source, target }] : [];
  });
  return { nodes, edges };
}

export function writeClipboard(content: ClipboardContent): void {
  const text = serializeClipboard(content);
  try {
    localStorage.setItem(CLIPBOARD_STORAGE_KEY, text);
  } catch {
    // Storage full or disabled: the system clipboard below still carries it.
  }
  void navigator.clipboard?.writeText(text).catch(() => undefined);
}

export function readStoredClipboard(): ClipboardContent | null {
  try {
    return parseClipboard(localStorage.getItem(CLIPBOARD_STORAGE_KEY));
  } catch {
    return null;
  }
}
