/**
 * Request schemas from the OpenAPI snapshot (`openapi.json`, written with `schema.d.ts` by
 * `make api-types`), as the plain JSON Schema the generated forms read.
 *
 * Read at build time rather than fetched from /api/v1/schema/: the form and the TypeScript types
 * then come from one snapshot, which CI's drift test holds equal to what the server describes, so
 * a page never renders a contract its types do not know; and the Train page needs no extra
 * request (about half a megabyte), loading state or failure path before it can show a field. Only
 * `components` is imported, so the bundler leaves the paths out.
 */
import { components } from "./openapi.json";
import type { JsonSchema } from "./layers";

/** An OpenAPI 3.0 schema object as drf-spectacular writes one (pydantic's, post-processed). */
interface OpenApiSchema {
  $ref?: string;
  allOf?: OpenApiSchema[];
  anyOf?: OpenApiSchema[];
  oneOf?: OpenApiSchema[];
  nullable?: boolean;
  exclusiveMinimum?: boolean | number;
  exclusiveMaximum?: boolean | number;
  minimum?: number;
  maximum?: number;
  items?: OpenApiSchema;
  properties?: Record<string, OpenApiSchema>;
  [key: string]: unknown;
}

const SCHEMAS = components.schemas as unknown as Record<string, OpenApiSchema>;
const REF_PREFIX = "#/components/schemas/";

/** Names the component schemas of the snapshot hold, for a clear error on a missing one. */
export function hasComponent(name: string): boolean {
  return name in SCHEMAS;
}

/**
 * The component `name` with every `$ref` inlined, single-element `allOf` merged, `nullable`
 * written as `anyOf [..., null]` and OpenAPI 3.0's boolean exclusive bounds as JSON Schema's
 * numeric ones. Keys beside a `$ref` or `allOf` (title, description, default) win over the target's.
 *
 * @throws Error when the snapshot has no such component.
 */
export function componentSchema(name: string): JsonSchema {
  const schema = SCHEMAS[name];
  if (!schema) throw new Error(`the OpenAPI snapshot has no component ${name}: run make api-types`);
  return toJsonSchema(schema, new Set([name]));
}

function toJsonSchema(schema: OpenApiSchema, seen: ReadonlySet<string>): JsonSchema {
  const { $ref, allOf, nullable, ...rest } = schema;
  let base: OpenApiSchema = rest;
  const target = $ref ?? (allOf?.length === 1 ? allOf[0]?.$ref : undefined);
  if (target?.startsWith(REF_PREFIX)) {
    const name = target.slice(REF_PREFIX.length);
    const referenced = SCHEMAS[name];
    // A schema that contains itself cannot become a finite form; it stays an opaque value.
    if (referenced && !seen.has(name)) base = { ...(toJsonSchema(referenced, new Set([...seen, name])) as OpenApiSchema), ...rest };
  } else if (allOf && allOf.length > 0) {
    base = Object.assign({}, ...allOf.map((part) => toJsonSchema(part, seen)), rest) as OpenApiSchema;
  }
  const out = convert(base, seen);
  if (!nullable) return out;
  const { title, description, default: fallback, ...value } = out;
  return { title, description, default: fallback, anyOf: [value, { type: "null" }] };
}

function convert(schema: OpenApiSchema, seen: ReadonlySet<string>): JsonSchema {
  const { exclusiveMinimum, exclusiveMaximum, minimum, maximum, properties, items, anyOf, oneOf, ...rest } = schema;
  const out: JsonSchema = { ...(rest as JsonSchema) };
  if (exclusiveMinimum === true) out.exclusiveMinimum = minimum;
  else if (typeof exclusiveMinimum === "number") out.exclusiveMinimum = exclusiveMinimum;
  if (exclusiveMinimum !== true && minimum !== undefined) out.minimum = minimum;
  if (exclusiveMaximum === true) out.exclusiveMaximum = maximum;
  else if (typeof exclusiveMaximum === "number") out.exclusiveMaximum = exclusiveMaximum;
  if (exclusiveMaximum !== true && maximum !== undefined) out.maximum = maximum;
  if (properties) out.properties = Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, toJsonSchema(v, seen)]));
  if (items) out.items = toJsonSchema(items, seen);
  if (anyOf) out.anyOf = anyOf.map((part) => toJsonSchema(part, seen));
  if (oneOf) out.oneOf = oneOf.map((part) => toJsonSchema(part, seen));
  return out;
}
