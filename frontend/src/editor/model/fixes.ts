/**
 * One-click fixes the server suggests (`Issue.fix`), in words and as edits. The vocabulary and
 * its semantics are the server's (builder/graph/fixes.py, whose `apply_fix` this mirrors):
 *
 * - `{"set": {param: value}}` changes parameters of the node at fault;
 * - `{"insert": type, "params"?: {...}}` puts a new layer (defaults overridden by `params`) on
 *   the edge into the port at fault (the issue's port, else the node's first input); every edge
 *   into that port is rewired to the new layer's inputs in order;
 * - `{"type": type}` changes the node's type, keeping the parameters the new type knows.
 */
import type { Issue } from "../../api/validation";
import { type Params, defaultParams, inputPorts, outputPorts } from "./document";
import { type Snapshot, type SpecLookup, addNode, connect, updateParams } from "./edits";

const STEP_X = 330;
const STEP_Y = 110;

interface Fix {
  set?: Params;
  insert?: string;
  params?: Params;
  type?: string;
}

function readFix(issue: Issue): Fix | null {
  const fix = issue.fix as Record<string, unknown> | null;
  if (!fix) return null;
  const object = (value: unknown): Params | undefined =>
    value && typeof value === "object" && !Array.isArray(value) ? (value as Params) : undefined;
  const read: Fix = {};
  const set = object(fix.set);
  if (set && Object.keys(set).length > 0) read.set = set;
  if (typeof fix.insert === "string") read.insert = fix.insert;
  const params = object(fix.params);
  if (params) read.params = params;
  if (typeof fix.type === "string") read.type = fix.type;
  return read.set || read.insert || read.type ? read : null;
}

/** A layer type as words: `max_pool2d` → `Max pool2d`, `linear` → `Linear`. */
export function layerName(type: string): string {
  const words = type.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function valueText(value: unknown): string {
  if (Array.isArray(value)) return `[${value.join(", ")}]`;
  return String(value);
}

function insertText(type: string, params: Params = {}): string {
  const conv = /^conv([123])d$/.exec(type);
  if (conv && params.kernel_size === 1 && typeof params.out_channels === "number") {
    const window = Array.from({ length: Number(conv[1]) }, () => "1").join("×");
    return `Insert ${window} conv (${params.out_channels} channels)`;
  }
  if (type === "linear" && typeof params.out_features === "number") return `Insert Linear (${params.out_features} features)`;
  if (type === "reshape" && Array.isArray(params.shape)) return `Insert Reshape to [N,${params.shape.join(",")}]`;
  if (type === "flatten" && typeof params.start_dim === "number" && params.start_dim !== 1) {
    return `Insert Flatten (from dim ${params.start_dim})`;
  }
  if (type === "embedding" && typeof params.num_embeddings === "number") {
    return `Insert Embedding (vocabulary ${params.num_embeddings})`;
  }
  return `Insert ${layerName(type)}`;
}

/** Words for a server-suggested fix ("Set padding to same", "Insert 1×1 conv (64 channels)"),
 * or null when the canvas cannot apply it. */
export function fixLabel(issue: Issue): string | null {
  const fix = readFix(issue);
  if (!fix) return null;
  if (fix.set) {
    const changes = Object.entries(fix.set).map(([name, value]) => `${name} to ${valueText(value)}`);
    return `Set ${changes.join(" and ")}`;
  }
  if (fix.insert) return insertText(fix.insert, fix.params);
  if (fix.type) return `Change type to ${fix.type}`;
  return null;
}

/** Applies `issue`'s fix as one edit; null when it does not apply (no such node or layer type). */
export function applyFix(snapshot: Snapshot, issue: Issue, lookup: SpecLookup): Snapshot | null {
  const target = snapshot.nodes.find((n) => n.id === issue.node_id);
  const fix = readFix(issue);
  if (!target || !fix) return null;
  if (fix.set) {
    return updateParams(snapshot, target.id, { ...target.data.params, ...fix.set }, lookup(target.data.type));
  }
  if (fix.insert) return insertBefore(snapshot, target.id, issue.port, fix.insert, fix.params ?? {}, lookup);
  if (fix.type) {
    const spec = lookup(fix.type);
    if (!spec) return null;
    const known = spec.params_schema.properties ?? {};
    const kept = Object.fromEntries(Object.entries(target.data.params).filter(([name]) => name in known));
    const params = { ...defaultParams(spec.params_schema), ...kept };
    const nodes = snapshot.nodes.map((n) => (n.id === target.id ? { ...n, data: { ...n.data, type: fix.type as string } } : n));
    return updateParams({ ...snapshot, nodes }, target.id, params, spec);
  }
  return null;
}

function insertBefore(
  snapshot: Snapshot,
  targetId: string,
  issuePort: string | null,
  type: string,
  overrides: Params,
  lookup: SpecLookup,
): Snapshot | null {
  const spec = lookup(type);
  const target = snapshot.nodes.find((n) => n.id === targetId);
  if (!spec || !target) return null;
  const port = issuePort ?? inputPorts(lookup(target.data.type), target.data.params)[0] ?? "in";
  const feeding = snapshot.edges.filter((e) => e.target === target.id && (e.targetHandle ?? "in") === port);
  const source = feeding[0] ? snapshot.nodes.find((n) => n.id === feeding[0]?.source) : undefined;
  const position = source
    ? { x: (source.position.x + target.position.x) / 2 + STEP_X / 3, y: (source.position.y + target.position.y) / 2 }
    : { x: target.position.x, y: target.position.y - STEP_Y };
  const without: Snapshot = { ...snapshot, edges: snapshot.edges.filter((e) => !feeding.includes(e)) };
  const added = addNode(without, spec, { position });
  const params = { ...defaultParams(spec.params_schema), ...overrides };
  let next = updateParams(added.snapshot, added.id, params, spec);
  const ins = inputPorts(spec, params);
  feeding.forEach((edge, index) => {
    const newIn = ins[index];
    if (newIn) next = connect(next, { source: edge.source, sourceHandle: edge.sourceHandle ?? "out", target: added.id, targetHandle: newIn });
  });
  return connect(next, { source: added.id, sourceHandle: outputPorts(spec, params)[0] ?? "out", target: target.id, targetHandle: port });
}
