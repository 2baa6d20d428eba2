import type { ModelCard } from "../../api/deploy";

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

/** The model card as facts: task, classes, input contract, metrics, dataset, training config. */
export function ModelCardView({ card }: { card: ModelCard }) {
  return (
    <dl className="facts">
      <dt>Task</dt>
      <dd>{card.task}</dd>
      <dt>Classes</dt>
      <dd>{card.classes.join(", ") || "—"}</dd>
      <dt>Input contract</dt>
      <dd>
        {card.inputs.length === 0
          ? "—"
          : card.inputs.map((input) => (
              <div key={input.name}>
                <code>
                  {input.name}: {input.datatype} [{input.shape.join(", ")}]
                </code>
                {factText(input.preprocessing) && <span className="muted"> · {factText(input.preprocessing)}</span>}
              </div>
            ))}
      </dd>
      <dt>Metrics</dt>
      <dd>{factText(card.metrics) || "—"}</dd>
      <dt>Dataset</dt>
      <dd>{factText(card.dataset) || "—"}</dd>
      <dt>Training config</dt>
      <dd>{factText(card.training_config) || "—"}</dd>
    </dl>
  );
}
