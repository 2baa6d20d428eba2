import { type KeyboardEvent, memo, useMemo, useState } from "react";

import type { JsonSchema } from "../../api/layers";
import { SchemaForm } from "../../editor/components/SchemaForm";
import { BASIC_PATHS, type ConfigField, type ConfigValues, RUN_CONFIG_FIELDS, SECTION_LABELS, isShown } from "./trainConfig";

const BASIC = new Set(BASIC_PATHS);
const BASIC_FIELDS = BASIC_PATHS.flatMap((path) => RUN_CONFIG_FIELDS.filter((f) => f.path === path));
const ADVANCED_FIELDS = RUN_CONFIG_FIELDS.filter((f) => !BASIC.has(f.path));
// Known sections in their set order, then any section the schema gains later.
const SECTIONS = [...new Set([...Object.keys(SECTION_LABELS), ...ADVANCED_FIELDS.map((f) => f.section)])].filter((section) =>
  ADVANCED_FIELDS.some((f) => f.section === section),
);

/** The object schema SchemaForm renders: one property per shown field, keyed by its path. */
function formSchema(fields: readonly ConfigField[], values: ConfigValues): JsonSchema {
  return { type: "object", properties: Object.fromEntries(fields.filter((f) => isShown(f, values)).map((f) => [f.path, f.schema])) };
}

export interface RunConfigFieldsProps {
  values: ConfigValues;
  /** The server's messages by field path ("optimizer.lr"). */
  errors: Record<string, string[]>;
  onChange: (values: ConfigValues) => void;
}

/**
 * The run config as forms generated from its schema: the basic fields, then the rest under a
 * collapsed "Advanced settings", one group per config section. Advanced opens by itself when the
 * server names one of its fields.
 */
export const RunConfigFields = memo(function RunConfigFields({ values, errors, onChange }: RunConfigFieldsProps) {
  const [open, setOpen] = useState(false);
  // Set while rendering, not in an effect, so the errors never show a frame inside a closed group.
  const [errorsSeen, setErrorsSeen] = useState(errors);
  if (errors !== errorsSeen) {
    setErrorsSeen(errors);
    if (ADVANCED_FIELDS.some((f) => errors[f.path])) setOpen(true);
  }
  const basic = useMemo(() => formSchema(BASIC_FIELDS, values), [values]);
  const sections = useMemo(
    () =>
      SECTIONS.map((section) => ({ section, schema: formSchema(ADVANCED_FIELDS.filter((f) => f.section === section), values) }))
        // A section whose every field concerns another choice (precision's, outside dynamic) is left out.
        .filter(({ schema }) => Object.keys(schema.properties ?? {}).length > 0),
    [values],
  );
  const changed = onChange as (values: Record<string, unknown>) => void;
  // Enter commits a field, as on the canvas; it must not also start a run (the form's implicit
  // submission), least of all with the value from before the commit.
  const keepEnter = (event: KeyboardEvent<HTMLDivElement>) => {
    if (event.key === "Enter" && event.target instanceof HTMLInputElement) event.preventDefault();
  };
  return (
    <div className="run-config" onKeyDown={keepEnter}>
      <fieldset className="run-config__group run-config__group--basic" data-testid="run-config-basic">
        <legend>Training</legend>
        <SchemaForm schema={basic} value={values as Record<string, unknown>} errors={errors} onChange={changed} />
      </fieldset>
      <details className="run-config__advanced" open={open} onToggle={(event) => setOpen(event.currentTarget.open)} data-testid="run-config-advanced">
        <summary>Advanced settings</summary>
        {sections.map(({ section, schema }) => (
          <fieldset key={section} className="run-config__group">
            <legend>{SECTION_LABELS[section] ?? section.replaceAll("_", " ")}</legend>
            <SchemaForm schema={schema} value={values as Record<string, unknown>} errors={errors} onChange={changed} />
          </fieldset>
        ))}
      </details>
    </div>
  );
});
