import type { ModelCard } from "../../api/deploy";
import { configSections, headlineMetric, inputInWords, metricRows } from "./cardText";
import "./models.css";
import { MetricsTable } from "./MetricsTable";

/** `key value · key value` for the scalars of an object, one level of nesting deep ("optimizer name adam"). */
export function factText(value: unknown, prefix = ""): string {
  if (!value || typeof value !== "object" || Array.isArray(value)) return "";
  return Object.entries(value as Record<string, unknown>)
    .flatMap(([key, item]) => {
      const label = `${prefix}${key.replaceAll("_", " ")}`;
      if (typeof item === "number") return [`${label} ${Number(item.toPrecision(4))}`];
      if (typeof item === "string" || typeof item === "boolean") return [`${label} ${String(item)}`];
      if (item && typeof item === "object" && !Array.isArray(item) && prefix === "") return [factText(item, `${label} `)];
      return [];
    })
    .filter(Boolean)
    .join(" · ");
}

type Json = Record<string, unknown>;

function asObject(value: unknown): Json | undefined {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Json) : undefined;
}

/** Where the card's figures come from: measured on this model, or the best validation epoch of its run. */
function measuredOn(metrics: Json): string | null {
  if (typeof metrics.evaluated === "string") return `Measured on ${metrics.evaluated}.`;
  const best = asObject(metrics.best);
  if (best && typeof best.epoch === "number") return `Validation: the best epoch (${best.epoch + 1}) of the training run. Test: that checkpoint on the test split.`;
  return null;
}

function datasetText(dataset: Json | undefined): string {
  if (!dataset || !dataset.name) return "—";
  return dataset.version !== undefined ? `${String(dataset.name)} (dataset version ${String(dataset.version)})` : String(dataset.name);
}

/**
 * The model card people read: the task's headline metric, large; the input contract in words; a
 * validation/test metrics table; the training configuration as a collapsible table.
 */
export function ModelCardView({ card }: { card: ModelCard }) {
  const metrics = asObject(card.metrics) ?? {};
  const headline = headlineMetric(card.task, metrics);
  const rows = metricRows(metrics);
  const sections = configSections(asObject(card.training_config));
  const note = measuredOn(metrics);
  return (
    <div className="model-card">
      <p className="model-card__headline" data-testid="headline-metric">
        {headline ? (
          <>
            <span className="model-card__figure">{headline.value}</span>
            <span className="model-card__figure-label">{headline.label}</span>
          </>
        ) : (
          <span className="muted">No metrics were measured for this model.</span>
        )}
      </p>
      <dl className="facts">
        <dt>Task</dt>
        <dd>{card.task}</dd>
        <dt>Classes</dt>
        <dd>{card.classes.join(", ") || "—"}</dd>
        <dt>Input</dt>
        <dd>
          {card.inputs.length === 0
            ? "—"
            : card.inputs.map((input) => (
                <div key={input.name} data-testid="input-contract">
                  <span>{inputInWords(asObject(input.preprocessing), input.shape)}</span>
                  <br />
                  <code className="muted">
                    {input.name}: {input.datatype} [{input.shape.join(", ")}]
                  </code>
                </div>
              ))}
        </dd>
        <dt>Dataset</dt>
        <dd>{datasetText(asObject(card.dataset))}</dd>
      </dl>
      {rows.length > 0 && (
        <MetricsTable rows={rows} label="Metrics" className="table model-card__metrics" />
      )}
      {note && <p className="muted model-card__note">{note}</p>}
      {sections.length > 0 && (
        <details className="model-card__config">
          <summary>Training configuration</summary>
          <table className="table" aria-label="Training configuration">
            {sections.map((section) => (
              <tbody key={section.title}>
                <tr>
                  <th scope="rowgroup" colSpan={2} className="model-card__section">
                    {section.title}
                  </th>
                </tr>
                {section.rows.map((row) => (
                  <tr key={row.label}>
                    <th scope="row">{row.label}</th>
                    <td>{row.value}</td>
                  </tr>
                ))}
              </tbody>
            ))}
          </table>
        </details>
      )}
    </div>
  );
}
