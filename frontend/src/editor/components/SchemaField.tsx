import { type KeyboardEvent, memo, useId, useState } from "react";

import type { JsonSchema } from "../../api/layers";
import {
  branchIndexFor,
  branchLabel,
  branchesOf,
  enumValues,
  initialValueFor,
  kindOf,
  parseText,
  toText,
} from "../model/schema";

export interface SchemaFieldProps {
  name: string;
  schema: JsonSchema;
  value: unknown;
  /** Messages from the server for this parameter. */
  serverErrors?: readonly string[];
  onChange: (name: string, value: unknown) => void;
}

/** One parameter: the widget its schema calls for, with help text, range and inline errors. */
function SchemaFieldComponent({ name, schema, value, serverErrors = [], onChange }: SchemaFieldProps) {
  const id = useId();
  const branches = branchesOf(schema);
  const current = value === undefined ? schema.default : value;
  const index = branchIndexFor(branches, current);
  const branch = branches[index] ?? schema;
  const [localError, setLocalError] = useState<string | null>(null);
  const label = schema.title ?? name;
  const errors = [...(localError ? [`${label} ${localError}`] : []), ...serverErrors];
  const hint = [schema.description, schema.default !== undefined ? `Default: ${toText(schema.default) || "none"}.` : null]
    .filter(Boolean)
    .join(" ");

  const describedBy = [hint ? `${id}-hint` : "", errors.length ? `${id}-errors` : ""].filter(Boolean).join(" ") || undefined;
  const control = {
    id,
    "aria-describedby": describedBy,
    "aria-invalid": errors.length > 0 ? (true as const) : undefined,
  };
  const commit = (next: unknown) => {
    setLocalError(null);
    onChange(name, next);
  };

  return (
    <div className="field schema-field" data-testid={`param-${name}`}>
      <label className="field__label" htmlFor={id}>
        {label}
      </label>
      {branches.length > 1 && (
        <select
          className="field__control schema-field__kind"
          aria-label={`${label}: kind of value`}
          value={index}
          onChange={(event) => {
            const next = branches[Number(event.target.value)];
            if (next) commit(initialValueFor(next, schema.default, current));
          }}
        >
          {branches.map((b, i) => (
            <option key={i} value={i}>
              {branchLabel(b)}
            </option>
          ))}
        </select>
      )}
      <Widget
        key={`${index}:${toText(current)}`}
        schema={branch}
        value={current}
        control={control}
        onCommit={commit}
        onError={setLocalError}
      />
      {hint && (
        <p className="field__hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {errors.length > 0 && (
        <ul className="field__errors" id={`${id}-errors`}>
          {errors.map((message) => (
            <li key={message}>{message}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

export const SchemaField = memo(SchemaFieldComponent);

interface WidgetProps {
  schema: JsonSchema;
  value: unknown;
  control: { id: string; "aria-describedby": string | undefined; "aria-invalid": true | undefined };
  onCommit: (value: unknown) => void;
  onError: (message: string | null) => void;
}

function Widget({ schema, value, control, onCommit, onError }: WidgetProps) {
  const kind = kindOf(schema);
  if (kind === "boolean") {
    return <input type="checkbox" {...control} checked={value === true} onChange={(e) => onCommit(e.target.checked)} />;
  }
  if (kind === "enum") {
    const options = enumValues(schema);
    const selected = Math.max(0, options.findIndex((v) => v === value));
    return (
      <select className="field__control" {...control} value={selected} onChange={(e) => onCommit(options[Number(e.target.value)])}>
        {options.map((option, i) => (
          <option key={String(option)} value={i}>
            {String(option)}
          </option>
        ))}
      </select>
    );
  }
  if (kind === "null") {
    return (
      <p className="muted schema-field__none" id={control.id}>
        None: chosen automatically.
      </p>
    );
  }
  return <TextWidget schema={schema} value={value} control={control} onCommit={onCommit} onError={onError} />;
}

/** Numbers, lists and text: typed freely, checked and committed on Enter or when leaving the field. */
function TextWidget({ schema, value, control, onCommit, onError }: WidgetProps) {
  const kind = kindOf(schema);
  const [text, setText] = useState(toText(value));
  const numeric = kind === "integer" || kind === "number";

  const finish = () => {
    if (text === toText(value)) {
      onError(null);
      return;
    }
    const parsed = parseText(schema, text);
    if (parsed.ok) onCommit(parsed.value);
    else onError(parsed.error);
  };
  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === "Enter") finish();
    if (event.key === "Escape") {
      setText(toText(value));
      onError(null);
    }
  };

  return (
    <input
      className="field__control"
      {...control}
      type={numeric ? "number" : "text"}
      inputMode={kind === "array" ? "numeric" : undefined}
      step={kind === "integer" ? 1 : numeric ? "any" : undefined}
      min={numeric ? (schema.minimum ?? schema.exclusiveMinimum) : undefined}
      max={numeric ? (schema.maximum ?? schema.exclusiveMaximum) : undefined}
      placeholder={kind === "array" ? "e.g. 3, 3" : undefined}
      value={text}
      onChange={(event) => setText(event.target.value)}
      onBlur={finish}
      onKeyDown={onKeyDown}
    />
  );
}
