import { Handle, type NodeProps, Position } from "@xyflow/react";
import { memo, useMemo } from "react";

import type { PortSpec } from "../../api/layers";
import { inputPorts, outputPorts } from "../model/document";
import type { LayerFlowNode } from "../model/flow";
import { formatCount } from "../model/format";
import { useFrozen } from "../stores/frozenStore";
import { useLayers } from "../stores/layersStore";
import { useRunOverlay } from "../stores/runOverlayStore";
import { useValidation } from "../stores/validationStore";
import { LockIcon } from "./FrozenBar";
import { IssueList } from "./IssueList";
import { RunBadges } from "./RunBadges";

function portDoc(ports: readonly PortSpec[] | undefined, name: string): string | undefined {
  return ports?.find((p) => p.name === name)?.doc || undefined;
}

/**
 * Every layer on the canvas: ports from the registry (variadic layers get in0..in{n-1}), its
 * output shape, parameters and FLOPs, and its problems, all read from small store selectors.
 */
function LayerNodeComponent({ id, data, selected, isConnectable }: NodeProps<LayerFlowNode>) {
  const spec = useLayers((s) => s.byId[data.type]);
  const view = useValidation((s) => s.nodes[id]);
  const run = useRunOverlay((s) => s.layers[id]);
  const nonfinite = useRunOverlay((s) => s.nonfinite !== null && s.nonfinite.layer === id);
  const frozen = useFrozen((s) => s.frozen[id] === true);
  const inputs = useMemo(() => inputPorts(spec, data.params), [spec, data.params]);
  const outputs = useMemo(() => outputPorts(spec, data.params), [spec, data.params]);
  const errors = view?.errors.length ?? 0;
  const warnings = view?.warnings.length ?? 0;
  const state = errors ? "error" : warnings ? "warning" : view?.params != null ? "ok" : "unknown";
  const title = data.label ?? id;

  return (
    <div
      className={`layer-node layer-node--${state}${selected ? " layer-node--selected" : ""}${spec?.is_input ? " layer-node--input" : ""}${nonfinite ? " layer-node--nonfinite" : ""}${frozen ? " layer-node--frozen" : ""}`}
      data-testid={`node-${id}`}
      data-state={state}
      data-frozen={frozen || undefined}
      role="group"
      aria-label={`Layer ${title} (${data.type})${errors ? `, ${errors} error${errors > 1 ? "s" : ""}` : ""}${nonfinite ? ", first NaN/Inf" : ""}${frozen ? ", frozen" : ""}`}
    >
      {inputs.map((port, index) => (
        <Handle
          key={port}
          id={port}
          type="target"
          isConnectable={isConnectable}
          position={Position.Top}
          style={{ left: `${((index + 1) / (inputs.length + 1)) * 100}%` }}
          title={`${port}${portDoc(spec?.inputs, port) ? `: ${portDoc(spec?.inputs, port)}` : ""}`}
          aria-label={`${id} input ${port}`}
          data-testid={`handle-${id}-in-${port}`}
        />
      ))}
      <div className="layer-node__header">
        <span className="layer-node__title">{title}</span>
        <span className="layer-node__type">{data.type}</span>
        {frozen && (
          <span className="layer-node__frozen" title="Frozen: its weights are not trained" data-testid={`frozen-${id}`}>
            <LockIcon /> frozen
          </span>
        )}
      </div>
      {inputs.length > 1 && <div className="layer-node__ports muted">{inputs.join(" · ")}</div>}
      <div className="layer-node__stats">
        {outputs.map((port) => (
          <span key={port} className="layer-node__shape" data-testid={`shape-${id}-${port}`}>
            {outputs.length > 1 ? `${port}: ` : "→ "}
            {view?.outputs[port] ?? "?"}
          </span>
        ))}
        {view?.params != null && (
          <span className="layer-node__counts muted">
            {formatCount(view.params)} params · {formatCount(view.flops ?? 0)} FLOPs
          </span>
        )}
      </div>
      {(run || nonfinite) && <RunBadges nodeId={id} layer={run} nonfinite={nonfinite} />}
      {view && <IssueList errors={view.errors} warnings={view.warnings} compact />}
      {outputs.map((port, index) => (
        <Handle
          key={port}
          id={port}
          type="source"
          isConnectable={isConnectable}
          position={Position.Bottom}
          style={{ left: `${((index + 1) / (outputs.length + 1)) * 100}%` }}
          title={`${port}${portDoc(spec?.outputs, port) ? `: ${portDoc(spec?.outputs, port)}` : ""}`}
          aria-label={`${id} output ${port}`}
          data-testid={`handle-${id}-out-${port}`}
        />
      ))}
    </div>
  );
}

export const LayerNode = memo(LayerNodeComponent);
