import { create } from "zustand";

import type { ModelVariant } from "../../api/deploy";
import type { RunConfigRequest } from "../../api/runs";

/** Weights a page URL can offer (opened from the market): a market version or a fork's. */
export type OfferedWeights = { market_version: number } | { fork: number };

/**
 * Where a fine-tuning run's starting weights come from (the run config's `init_weights`): the
 * offered weights, or a ready model of this project (`model`, a ModelVariant id).
 */
export type StartFrom = OfferedWeights | { model: number };

/** The learning rate suggested for fine-tuning: pretrained weights are a good start a large step would throw away. */
export const FINETUNE_LR = 0.0001;

interface FineTuneState {
  /** null: the run starts from a random initialisation. */
  startFrom: StartFrom | null;
  /** Node ids to freeze, in the graph's order. */
  freeze: readonly string[];
  /** Chooses the starting weights; the frozen layers start over. */
  start: (from: StartFrom | null) => void;
  setFreeze: (nodeIds: readonly string[]) => void;
  toggle: (nodeId: string, order: readonly string[]) => void;
  reset: () => void;
}

/** The train form's fine-tuning choices, apart from its plain fields. */
export const useFineTune = create<FineTuneState>()((set) => ({
  startFrom: null,
  freeze: [],
  start: (startFrom) => set({ startFrom, freeze: [] }),
  setFreeze: (freeze) => set({ freeze }),
  toggle: (nodeId, order) =>
    set((state) => {
      const chosen = new Set(state.freeze);
      if (!chosen.delete(nodeId)) chosen.add(nodeId);
      return { freeze: order.filter((id) => chosen.has(id)) };
    }),
  reset: () => set({ startFrom: null, freeze: [] }),
}));

/** The starting weights a page URL names (its `market_version` or `fork` param), or none. */
export function startFromSearch(marketVersion: string | null, fork: string | null): OfferedWeights | null {
  const id = (text: string | null) => {
    const value = Number(text);
    return text !== null && Number.isInteger(value) && value > 0 ? value : null;
  };
  const version = id(marketVersion);
  if (version !== null) return { market_version: version };
  const forkId = id(fork);
  return forkId !== null ? { fork: forkId } : null;
}

/** A run config with the fine-tuning fields added: `init_weights` and, with it, `freeze`. */
export function withFineTune(config: RunConfigRequest, startFrom: StartFrom | null, freeze: readonly string[]): RunConfigRequest {
  if (startFrom === null) return config;
  return { ...config, init_weights: { ...startFrom }, ...(freeze.length > 0 ? { freeze: [...freeze] } : {}) };
}

/** Every parametrised layer except the last one (the head, which learns the new classes). */
export function allButHead(parametrised: readonly string[]): string[] {
  return parametrised.slice(0, -1);
}

/**
 * The project's models a run can start from: finished (`succeeded`) trained or pruned ones. The
 * server refuses the rest (a quantized model's int8 weights do not load into a float graph).
 */
export function startableModels(models: readonly ModelVariant[]): ModelVariant[] {
  return models.filter((m) => m.status === "succeeded" && (m.kind === "trained" || m.kind === "pruned"));
}

/** How a model is named in the choice of starting weights: "#12 · lesions U-Net (trained)". */
export function modelLabel(model: Pick<ModelVariant, "id" | "name" | "kind">): string {
  return `#${model.id} · ${model.name} (${model.kind})`;
}
