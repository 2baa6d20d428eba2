import { useCallback, useMemo, useState } from "react";

import type { Params } from "../model/document";
import { formatCount } from "../model/format";
import { selectSelectionCount, selectSingleNodeId, useGraph } from "../stores/graphStore";
import { useLayers } from "../stores/layersStore";
import { useValidation } from "../stores/validationStore";
import { IssueList } from "./IssueList";
import { SchemaForm } from "./SchemaForm";

/** The selected layer's parameters, as a form generated from its JSON Schema. */
export function PropertiesPanel() {
  const nodeId = useGraph(selectSingleNodeId);
  const count = useGraph(selectSelectionCount);
  if (!nodeId) {
    return (
      <section className="side-panel__body" aria-label="Properties">
        <h2>Properties</h2>
        <p className="empty-state">
          {count > 1 ? `${count} items selected. Select one layer to edit it.` : "Select a layer to edit its parameters."}
        </p>
      </section>
    );
  }
  return <NodeProperties key={nodeId} nodeId={nodeId} />;
}

const NO_ERRORS: Record<string, string[]> = {};

function NodeProperties({ nodeId }: { nodeId: string }) {
  const data = useGraph((s) => s.nodes.find((n) => n.id === nodeId)?.data);
  const updateParams = useGraph((s) => s.updateParams);
  const setLabel = useGraph((s) => s.setLabel);
  const spec = useLayers((s) => (data ? s.byId[data.type] : undefined));
  const view = useValidation((s) => s.nodes[nodeId]);
  const [label, setLabelText] = useState(data?.label ?? "");

  const paramErrors = useMemo(() => {
    if (!view) return NO_ERRORS;
    const byParam: Record<string, string[]> = {};
    for (const issue of view.errors) if (issue.param) (byParam[issue.param] ??= []).push(issue.message);
    return byParam;
  }, [view]);
  const onChange = useCallback((params: Params) => updateParams(nodeId, params), [nodeId, updateParams]);

  if (!data) return null;
  const otherIssues = view?.errors.filter((i) => !i.param) ?? [];
  return (
    <section className="side-panel__body" aria-label="Properties" data-testid="properties">
      <h2>
        {nodeId} <span className="layer-node__type">{data.type}</span>
      </h2>
      {spec ? <p className="muted">{spec.doc}</p> : <p className="alert alert--error">Unknown layer type “{data.type}”.</p>}
      <div className="field">
        <label className="field__label" htmlFor="node-label">
          Display name
        </label>
        <input
          id="node-label"
          className="field__control"
          value={label}
          placeholder={nodeId}
          onChange={(event) => setLabelText(event.target.value)}
          onBlur={() => label !== (data.label ?? "") && setLabel(nodeId, label)}
        />
      </div>
      {view && (
        <dl className="properties__stats">
          {Object.entries(view.outputs).map(([port, shape]) => (
            <div key={port}>
              <dt>Output {port}</dt>
              <dd>{shape}</dd>
            </div>
          ))}
          {view.params != null && (
            <div>
              <dt>Parameters</dt>
              <dd>{view.params.toLocaleString()}</dd>
            </div>
          )}
          {view.flops != null && (
            <div>
              <dt>FLOPs</dt>
              <dd>{formatCount(view.flops)}</dd>
            </div>
          )}
        </dl>
      )}
      <IssueList errors={otherIssues} warnings={view?.warnings ?? []} />
      {spec && (
        <>
          <h3>Parameters</h3>
          <SchemaForm schema={spec.params_schema} value={data.params} errors={paramErrors} onChange={onChange} />
        </>
      )}
    </section>
  );
}
