import type { MarketEntryDetail, MarketImportJob, MarketVersion, MarketVersionSummary } from "../../api/market";

export function makeEntry(overrides: Partial<MarketEntryDetail> = {}): MarketEntryDetail {
  return {
    id: 7,
    title: "Digits classifier",
    description: "Reads handwritten digits.",
    kind: "model",
    task: "classification",
    modality: "image",
    classes: ["0", "1", "2"],
    input_contract: {
      inputs: [{ name: "image", datatype: "FP32", shape: [-1, 1, 8, 8] }],
      outputs: [{ name: "logits", datatype: "FP32", shape: [-1, 3] }],
      preprocessing: { input: "image", scale: 0.0625 },
    },
    licence: "CC-BY-4.0",
    author: "ada",
    project: 1,
    visibility: "public",
    stars: 2,
    forks: 1,
    downloads: 5,
    latest_params: 12_345,
    latest_flops: 2_000_000,
    latest_accuracy: 0.953,
    latest_version: 2,
    starred: false,
    created_at: "2025-01-02T10:00:00Z",
    updated_at: "2025-01-03T10:00:00Z",
    versions: [makeVersionSummary({ id: 31, number: 2, changelog: "more epochs" }), makeVersionSummary({ id: 30, number: 1 })],
    ...overrides,
  };
}

export function makeVersionSummary(overrides: Partial<MarketVersionSummary> = {}): MarketVersionSummary {
  return {
    id: 30,
    entry: 7,
    number: 1,
    has_weights: true,
    weights_sha256: "ab".repeat(32),
    metrics: { test: { accuracy: 0.953 } },
    metrics_dataset: { name: "digits", version: 4 },
    params: 12_345,
    flops: 2_000_000,
    registry_version: 1,
    source_artifact: 3,
    source_graph_version: 9,
    changelog: "",
    created_by: "ada",
    created_at: "2025-01-02T10:00:00Z",
    ...overrides,
  };
}

export function makeVersion(overrides: Partial<MarketVersion> = {}): MarketVersion {
  return {
    ...makeVersionSummary(),
    card: { title: "Digits classifier" },
    document: {
      schema_version: 1,
      nodes: [
        { id: "image", type: "image_input", params: { channels: 1, height: 8, width: 8 }, position: { x: 0, y: 0 } },
        { id: "flat", type: "flatten", params: {}, position: { x: 0, y: 0 } },
        { id: "logits", type: "linear", params: { out_features: 3 }, position: { x: 0, y: 0 } },
      ],
      edges: [
        { source: "image", source_port: "out", target: "flat", target_port: "in" },
        { source: "flat", source_port: "out", target: "logits", target_port: "in" },
      ],
    },
    ...overrides,
  };
}

export function makeImportJob(overrides: Partial<MarketImportJob> = {}): MarketImportJob {
  return {
    id: 7,
    kind: "bundle",
    status: "queued",
    progress: 0,
    stage: "queued",
    filename: "digits.zip",
    params: 1000,
    entry: null,
    entry_title: null,
    version: null,
    error: null,
    created_at: "2025-01-01T00:00:00Z",
    finished_at: null,
    ...overrides,
  };
}
