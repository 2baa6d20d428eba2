import type { LayerSpec } from "../api/layers";
import type { Issue, ValidationReport } from "../api/validation";

const int = (min: number, max: number, dflt: number, description = "") => ({
  type: "integer",
  minimum: min,
  maximum: max,
  default: dflt,
  description,
});
const intOrList = (dflt: number, description: string) => ({
  anyOf: [
    { type: "integer", minimum: 1, maximum: 1024 },
    { type: "array", items: { type: "integer", minimum: 1, maximum: 1024 } },
  ],
  default: dflt,
  description,
});

function layer(id: string, category: string, spec: Partial<LayerSpec> = {}): LayerSpec {
  return {
    id,
    category,
    doc: `${id} doc`,
    params_schema: { type: "object", properties: {} },
    inputs: [{ name: "in", doc: "", optional: false }],
    variadic: null,
    outputs: [{ name: "out", doc: "" }],
    is_input: false,
    ...spec,
  };
}

/** A few layer specs shaped like GET /api/v1/layers/ answers (schemas as pydantic writes them). */
export const layerSpecs: LayerSpec[] = [
  layer("image_input", "input", {
    inputs: [],
    is_input: true,
    params_schema: { type: "object", properties: { channels: int(1, 1048576, 3), height: int(1, 1048576, 32), width: int(1, 1048576, 32) } },
  }),
  layer("conv2d", "convolution", {
    doc: "2-D convolution over images [N,C,H,W].",
    params_schema: {
      type: "object",
      properties: {
        out_channels: { ...int(1, 1048576, 16, "Number of output channels (filters)."), title: "Out Channels" },
        kernel_size: { ...intOrList(3, "Kernel size: one int, or one per spatial dimension."), title: "Kernel Size" },
        padding: {
          title: "Padding",
          anyOf: [
            { type: "integer", minimum: 0, maximum: 1024 },
            { type: "array", items: { type: "integer", minimum: 0, maximum: 1024 } },
            { type: "string", enum: ["same", "valid"] },
          ],
          default: 0,
          description: "Zero padding per side.",
        },
        bias: { title: "Bias", type: "boolean", default: true, description: "Learn an additive bias." },
        padding_mode: { title: "Padding Mode", type: "string", enum: ["zeros", "reflect"], default: "zeros" },
      },
    },
  }),
  layer("flatten", "shape", {
    params_schema: { type: "object", properties: { start_dim: int(0, 8, 1), end_dim: int(-8, 8, -1) } },
  }),
  layer("linear", "linear", {
    doc: "Fully connected layer.",
    params_schema: { type: "object", properties: { out_features: int(1, 1048576, 64), bias: { type: "boolean", default: true } } },
  }),
  layer("add", "merge", {
    inputs: [],
    variadic: { param: "num_inputs", prefix: "in" },
    params_schema: { type: "object", properties: { num_inputs: int(2, 64, 2) } },
  }),
  layer("dropout", "regularization", {
    params_schema: { type: "object", properties: { p: { type: "number", minimum: 0, exclusiveMaximum: 1, default: 0.5 } } },
  }),
];

export function issue(overrides: Partial<Issue>): Issue {
  return { node_id: null, port: null, param: null, code: "shape_mismatch", message: "wrong", fix: null, ...overrides };
}

export function report(overrides: Partial<ValidationReport> = {}): ValidationReport {
  return {
    ok: true,
    errors: [],
    warnings: [],
    nodes: {},
    edges: [],
    totals: { params: 0, flops: 0, batch_size: 32, memory: {} },
    topological_order: [],
    inputs: [],
    outputs: [],
    ...overrides,
  };
}
