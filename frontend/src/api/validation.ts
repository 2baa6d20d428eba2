import { api, unwrap } from "./client";
import type { GraphDocument } from "../editor/model/document";
import type { Schemas } from "./types";

/** One problem the server found; `node_id`/`port`/`param` say where it belongs. */
export interface Issue {
  node_id: string | null;
  port: string | null;
  param: string | null;
  code: string;
  message: string;
  /** A machine-readable suggestion, e.g. `{"insert": "flatten"}` or `{"type": "conv2d"}`. */
  fix: Record<string, unknown> | null;
}

export interface NodeReport {
  type: string;
  inputs: Record<string, number[]>;
  outputs: Record<string, number[]>;
  dtypes: Record<string, string>;
  params: number;
  flops: number;
}

export interface EdgeReport {
  source: string;
  source_port: string;
  target: string;
  target_port: string;
  shape: number[] | null;
}

/** The one precision vocabulary, shared by the run config and the graph core's memory estimate. */
export type Precision = Schemas["PrecisionModeEnum"];

export interface MemoryBreakdown {
  weights: number;
  gradients: number;
  optimizer: number;
  activations: number;
  total: number;
}

export interface ValidationReport {
  ok: boolean;
  errors: Issue[];
  warnings: Issue[];
  nodes: Record<string, NodeReport>;
  edges: EdgeReport[];
  totals: {
    params: number;
    flops: number;
    batch_size: number;
    memory: Partial<Record<Precision, MemoryBreakdown>>;
  };
  topological_order: string[];
  inputs: string[];
  outputs: string[];
}

/** POST /graphs/validate/: the report for any document, valid or not. */
export async function validateDocument(
  document: GraphDocument,
  batchSize: number,
  signal?: AbortSignal,
): Promise<ValidationReport> {
  const body = { document, batch_size: batchSize };
  // schema gap: the answer is declared as any object; it is a ValidationReport.
  return (await unwrap(api.POST("/api/v1/graphs/validate/", { body, signal }))) as unknown as ValidationReport;
}
