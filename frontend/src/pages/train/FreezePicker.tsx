import { memo, useEffect, useMemo } from "react";

import { validateDocument } from "../../api/validation";
import { getVersion } from "../../api/versions";
import { ErrorAlert } from "../../components/ErrorAlert";
import { formatCount } from "../../editor/model/format";
import { useResource } from "../../hooks/useResource";
import { allButHead, useFineTune } from "./fineTuneStore";

export interface ParametrisedLayer {
  id: string;
  type: string;
  params: number;
}

/** The graph's layers that hold weights, in the order data flows through them. */
async function parametrisedLayers(graphId: number, versionId: number, signal: AbortSignal): Promise<ParametrisedLayer[]> {
  const version = await getVersion(graphId, versionId, signal);
  const report = await validateDocument(version.document, 1, signal);
  return report.topological_order.flatMap((id) => {
    const node = report.nodes[id];
    return node && node.params > 0 ? [{ id, type: node.type, params: node.params }] : [];
  });
}

/**
 * Which layers keep their starting weights: one checkbox per parametrised layer, with "all but
 * the head" (the usual transfer-learning choice) and "none" as shortcuts.
 */
export const FreezePicker = memo(function FreezePicker({ graphId, versionId }: { graphId: number; versionId: number }) {
  const layers = useResource(`freeze${graphId}:${versionId}`, (signal) => parametrisedLayers(graphId, versionId, signal));
  const freeze = useFineTune((s) => s.freeze);
  const toggle = useFineTune((s) => s.toggle);
  const setFreeze = useFineTune((s) => s.setFreeze);
  const order = useMemo(() => (layers.data ?? []).map((layer) => layer.id), [layers.data]);
  const chosen = useMemo(() => new Set(freeze), [freeze]);

  // Another graph: forget choices that name layers it does not have.
  useEffect(() => {
    if (!layers.data) return;
    const known = new Set(order);
    const kept = useFineTune.getState().freeze.filter((id) => known.has(id));
    if (kept.length !== useFineTune.getState().freeze.length) setFreeze(kept);
  }, [layers.data, order, setFreeze]);

  return (
    <fieldset className="freeze-picker" aria-describedby="freeze-hint">
      <legend>Frozen layers</legend>
      <p id="freeze-hint" className="field__hint">
        A frozen layer keeps its starting weights. The last layer is replaced when your dataset has another number of classes.
      </p>
      <ErrorAlert message={layers.error?.message} />
      {layers.loading && !layers.data && <p className="muted">Reading the graph’s layers…</p>}
      {layers.data && (
        <>
          <div className="freeze-picker__shortcuts">
            <button type="button" className="button button--small" onClick={() => setFreeze(allButHead(order))} disabled={order.length < 2}>
              Freeze all but the head
            </button>
            <button type="button" className="button button--small" onClick={() => setFreeze([])} disabled={freeze.length === 0}>
              Train all layers
            </button>
            <span className="muted" role="status">
              {freeze.length} of {order.length} frozen
            </span>
          </div>
          <ul className="freeze-picker__list" aria-label="Layers with weights">
            {layers.data.map((layer) => (
              <li key={layer.id}>
                <label>
                  <input type="checkbox" checked={chosen.has(layer.id)} onChange={() => toggle(layer.id, order)} aria-label={`Freeze ${layer.id}`} />{" "}
                  <code>{layer.id}</code> <span className="muted">{layer.type} · {formatCount(layer.params)}</span>
                </label>
              </li>
            ))}
          </ul>
        </>
      )}
    </fieldset>
  );
});
