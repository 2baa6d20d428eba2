/**
 * Reading the layer parameter JSON Schemas (pydantic's output) for the generated forms: which
 * alternatives a field offers (anyOf/oneOf), which one a value belongs to, parsing typed text and
 * checking ranges. No per-layer knowledge lives here.
 */
import type { JsonSchema } from "../../api/layers";

export type FieldKind = "integer" | "number" | "boolean" | "enum" | "string" | "array" | "null" | "unknown";

export function branchesOf(schema: JsonSchema): JsonSchema[] {
  const options = schema.anyOf ?? schema.oneOf;
  return options && options.length > 0 ? options : [schema];
}

export function kindOf(schema: JsonSchema): FieldKind {
  if (schema.enum || schema.const !== undefined) return "enum";
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "integer":
    case "number":
    case "boolean":
    case "string":
    case "array":
    case "null":
      return type;
    default:
      return "unknown";
  }
}

export function enumValues(schema: JsonSchema): unknown[] {
  return schema.enum ?? (schema.const !== undefined ? [schema.const] : []);
}

/** Words for an alternative, shown in the "kind" picker of a field with several. */
export function branchLabel(schema: JsonSchema): string {
  switch (kindOf(schema)) {
    case "integer":
      return "one integer";
    case "number":
      return "one number";
    case "boolean":
      return "true/false";
    case "enum":
      return enumValues(schema).map(String).join(" / ");
    case "string":
      return "text";
    case "array":
      return "one per axis (list)";
    case "null":
      return "none (automatic)";
    default:
      return schema.title ?? "value";
  }
}

/** Whether `value` has the type of `schema` (ranges are `problemWith`'s job). */
export function matchesType(schema: JsonSchema, value: unknown): boolean {
  switch (kindOf(schema)) {
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "boolean":
      return typeof value === "boolean";
    case "enum":
      return enumValues(schema).some((v) => v === value);
    case "string":
      return typeof value === "string";
    case "array":
      return Array.isArray(value);
    case "null":
      return value === null;
    default:
      return true;
  }
}

/** The alternative `value` belongs to (integers also count as numbers), or the first one. */
export function branchIndexFor(branches: readonly JsonSchema[], value: unknown): number {
  const exact = branches.findIndex((b) => matchesType(b, value));
  return exact >= 0 ? exact : 0;
}

/** A sensible starting value when the user switches a field to another alternative. */
export function initialValueFor(schema: JsonSchema, fieldDefault: unknown, current: unknown): unknown {
  if (matchesType(schema, fieldDefault)) return structuredClone(fieldDefault);
  switch (kindOf(schema)) {
    case "integer":
    case "number": {
      const scalar = Array.isArray(current) ? current[0] : current;
      return typeof scalar === "number" ? scalar : (schema.minimum ?? 1);
    }
    case "array": {
      const scalar = typeof current === "number" ? current : typeof fieldDefault === "number" ? fieldDefault : 1;
      return Array.from({ length: Math.max(schema.minItems ?? 2, 2) }, () => scalar);
    }
    case "boolean":
      return false;
    case "enum":
      return enumValues(schema)[0] ?? null;
    case "string":
      return "";
    default:
      return null;
  }
}

/** Range and length problems of a value of the right type, in words for the form; null when fine. */
export function problemWith(schema: JsonSchema, value: unknown): string | null {
  if (!matchesType(schema, value)) return `must be ${branchLabel(schema)}`;
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) return `must be at least ${schema.minimum}`;
    if (schema.maximum !== undefined && value > schema.maximum) return `must be at most ${schema.maximum}`;
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) return `must be more than ${schema.exclusiveMinimum}`;
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) return `must be less than ${schema.exclusiveMaximum}`;
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) return `needs at least ${schema.minItems} values`;
    if (schema.maxItems !== undefined && value.length > schema.maxItems) return `takes at most ${schema.maxItems} values`;
    const items = schema.prefixItems ?? [];
    for (const [i, item] of value.entries()) {
      const itemSchema = items[i] ?? schema.items;
      const problem = itemSchema ? problemWith(itemSchema, item) : null;
      if (problem) return `value ${i + 1} ${problem}`;
    }
  }
  return null;
}

export type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

/** Parses what was typed into a field of `schema` (numbers, or a list like "3, 3"), then checks it. */
export function parseText(schema: JsonSchema, text: string): Parsed {
  const kind = kindOf(schema);
  let value: unknown;
  if (kind === "integer" || kind === "number") {
    if (text.trim() === "") return { ok: false, error: "is required" };
    value = Number(text);
    if (!Number.isFinite(value)) return { ok: false, error: "must be a number" };
    if (kind === "integer" && !Number.isInteger(value)) return { ok: false, error: "must be a whole number" };
  } else if (kind === "array") {
    const parts = text.split(/[\s,×x]+/).filter(Boolean);
    const itemKind = schema.items ? kindOf(schema.items) : "number";
    if (itemKind === "integer" || itemKind === "number") {
      value = parts.map(Number);
      if ((value as number[]).some((n) => !Number.isFinite(n))) return { ok: false, error: "must be numbers separated by commas" };
      if (itemKind === "integer" && (value as number[]).some((n) => !Number.isInteger(n))) {
        return { ok: false, error: "must be whole numbers separated by commas" };
      }
    } else value = parts;
  } else value = text;
  const problem = problemWith(schema, value);
  return problem ? { ok: false, error: problem } : { ok: true, value };
}

/** A value as the text a field shows. */
export function toText(value: unknown): string {
  if (Array.isArray(value)) return value.map(String).join(", ");
  if (value === null || value === undefined) return "";
  return String(value);
}
