import { api, unwrap } from "./client";
import type { Refine, Schemas } from "./types";

/** A JSON Schema fragment as pydantic writes it for layer parameters. */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  items?: JsonSchema;
  prefixItems?: JsonSchema[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean;
}

export interface PortSpec {
  name: string;
  doc: string;
  optional?: boolean;
}

/** One layer type as GET /api/v1/layers/ describes it (builder/graph/registry.py `describe`). */
export interface LayerSpec {
  id: string;
  category: string;
  doc: string;
  params_schema: JsonSchema;
  /** Fixed input ports; empty for a variadic layer. */
  inputs: PortSpec[];
  /** Variadic layers: ports are `${prefix}0 .. ${prefix}{n-1}` with n the `param` parameter. */
  variadic: { param: string; prefix: string } | null;
  /** Fixed output ports; empty for a layer with variadic outputs. */
  outputs: PortSpec[];
  /** Layers with a variable number of outputs (chunk): `${prefix}0 .. ${prefix}{n-1}`. */
  variadic_outputs?: { param: string; prefix: string } | null;
  is_input: boolean;
  source?: string;
}

// schema gap: `layers` is declared as a list of any objects; each is a LayerSpec.
export type LayerRegistry = Refine<Schemas["LayerRegistry"], { layers: LayerSpec[] }>;

export async function listLayers(signal?: AbortSignal): Promise<LayerRegistry> {
  return (await unwrap(api.GET("/api/v1/layers/", { signal }))) as unknown as LayerRegistry;
}
