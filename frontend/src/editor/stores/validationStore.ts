/**
 * The server's latest validation report, indexed for the canvas: one view per node and one
 * shape per edge. Views that did not change keep their identity, so a new report re-renders
 * only the nodes whose shapes, counts or problems changed.
 */
import { create } from "zustand";

import type { Issue, Precision, ValidationReport } from "../../api/validation";
import { edgeId } from "../model/flow";
import { formatShape } from "../model/format";

export interface NodeView {
  /** Output shapes by port, formatted; empty when they cannot be known yet. */
  outputs: Record<string, string>;
  params: number | null;
  flops: number | null;
  errors: Issue[];
  warnings: Issue[];
}

export interface ValidationState {
  status: "idle" | "validating" | "done" | "failed";
  /** Why the last request failed (network, server); not a problem with the graph. */
  failure: string | null;
  report: ValidationReport | null;
  nodes: Record<string, NodeView>;
  edgeShapes: Record<string, string>;
  /** Problems that belong to no node on the canvas. */
  graphIssues: Issue[];
  batchSize: number;
  precision: Precision;
  setBatchSize: (batchSize: number) => void;
  setPrecision: (precision: Precision) => void;
  setValidating: () => void;
  setReport: (report: ValidationReport) => void;
  setFailed: (message: string) => void;
  reset: () => void;
}

const results = { status: "idle" as const, failure: null, report: null, nodes: {}, edgeShapes: {}, graphIssues: [] };

/** Per-node views of a report, reusing `previous` views that are equal. */
export function nodeViews(report: ValidationReport, previous: Record<string, NodeView> = {}): Record<string, NodeView> {
  const views: Record<string, NodeView> = {};
  const ensure = (id: string): NodeView => (views[id] ??= { outputs: {}, params: null, flops: null, errors: [], warnings: [] });
  for (const [id, info] of Object.entries(report.nodes)) {
    const view = ensure(id);
    view.outputs = Object.fromEntries(Object.entries(info.outputs).map(([port, shape]) => [port, formatShape(shape)]));
    view.params = info.params;
    view.flops = info.flops;
  }
  for (const issue of report.errors) if (issue.node_id) ensure(issue.node_id).errors.push(issue);
  for (const issue of report.warnings) if (issue.node_id) ensure(issue.node_id).warnings.push(issue);
  for (const [id, view] of Object.entries(views)) {
    const old = previous[id];
    if (old && JSON.stringify(old) === JSON.stringify(view)) views[id] = old;
  }
  return views;
}

export const useValidation = create<ValidationState>()((set, get) => ({
  ...results,
  batchSize: 32,
  precision: "fp32",

  setBatchSize: (batchSize) => set({ batchSize: Math.max(1, Math.min(65536, Math.round(batchSize) || 1)) }),
  setPrecision: (precision) => set({ precision }),
  setValidating: () => set({ status: "validating" }),

  setReport: (report) => {
    const nodes = nodeViews(report, get().nodes);
    const edgeShapes: Record<string, string> = {};
    for (const edge of report.edges) edgeShapes[edgeId(edge)] = formatShape(edge.shape);
    const graphIssues = [...report.errors, ...report.warnings].filter((i) => !i.node_id || !(i.node_id in nodes));
    set({ status: "done", failure: null, report, nodes, edgeShapes, graphIssues });
  },

  setFailed: (message) => set({ status: "failed", failure: message }),
  reset: () => set({ ...results }),
}));
