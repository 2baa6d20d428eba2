/**
 * The graph document (builder/graph/document.py): what the canvas edits, saves and validates.
 * Node ids name the compiled submodules, so they are Python identifiers.
 */
import type { JsonSchema, LayerSpec } from "../../api/layers";

export type Params = Record<string, unknown>;

export interface DocNode {
  id: string;
  type: string;
  params: Params;
  /** Absent where a program wrote the document (a template, an import): the canvas lays it out. */
  position?: { x: number; y: number };
  label?: string;
}

export interface DocEdge {
  source: string;
  source_port: string;
  target: string;
  target_port: string;
}

export interface GraphDocument {
  schema_version: 1;
  name?: string | null;
  nodes: DocNode[];
  edges: DocEdge[];
  inputs?: string[] | null;
  outputs?: string[] | null;
}

export function emptyDocument(name?: string): GraphDocument {
  return { schema_version: 1, ...(name ? { name } : {}), nodes: [], edges: [] };
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PY_KEYWORDS = new Set(
  ("False None True and as assert async await break class continue def del elif else except finally for " +
    "from global if import in is lambda nonlocal not or pass raise return try while with yield").split(" "),
);

/** Whether `id` can name a node: a Python identifier that is not a keyword, at most 100 chars. */
export function isValidNodeId(id: string): boolean {
  return id.length <= 100 && IDENTIFIER.test(id) && !PY_KEYWORDS.has(id);
}

/** The first free `${type}_${n}` (n from 1), a Python identifier since type ids are snake_case. */
export function nextNodeId(type: string, taken: ReadonlySet<string>): string {
  const base = type.replace(/[^A-Za-z0-9_]/g, "_").replace(/^(\d)/, "_$1") || "node";
  for (let n = 1; ; n += 1) {
    const id = `${base}_${n}`;
    if (!taken.has(id)) return id;
  }
}

/** The schema's default value for every parameter that has one. */
export function defaultParams(schema: JsonSchema): Params {
  const params: Params = {};
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    if (property.default !== undefined) params[name] = structuredClone(property.default);
  }
  return params;
}

function numberedPorts(
  spec: LayerSpec,
  variadic: { param: string; prefix: string },
  params: Params,
  fallbackPrefix: string,
): string[] {
  const raw = params[variadic.param] ?? spec.params_schema.properties?.[variadic.param]?.default;
  const count = typeof raw === "number" && Number.isInteger(raw) ? Math.max(0, Math.min(raw, 64)) : 2;
  return Array.from({ length: count }, (_, i) => `${variadic.prefix || fallbackPrefix}${i}`);
}

/** Input port names for a node of `spec` with `params` (variadic: in0..in{n-1}). */
export function inputPorts(spec: LayerSpec | undefined, params: Params): string[] {
  if (!spec) return ["in"];
  if (spec.variadic) return numberedPorts(spec, spec.variadic, params, "in");
  return spec.inputs.map((port) => port.name);
}

/** Output port names (variadic outputs, as chunk has: out0..out{n-1}). */
export function outputPorts(spec: LayerSpec | undefined, params: Params = {}): string[] {
  if (!spec) return ["out"];
  if (spec.variadic_outputs) return numberedPorts(spec, spec.variadic_outputs, params, "out");
  return spec.outputs.map((port) => port.name);
}
