import { useCallback } from "react";

import type { JsonSchema } from "../../api/layers";
import type { Params } from "../model/document";
import { SchemaField } from "./SchemaField";

export interface SchemaFormProps {
  schema: JsonSchema;
  value: Params;
  /** Server messages per parameter name. */
  errors?: Record<string, string[]>;
  onChange: (value: Params) => void;
}

const NO_ERRORS: string[] = [];

/** A form generated from a layer's parameter JSON Schema: one field per property, in schema order. */
export function SchemaForm({ schema, value, errors = {}, onChange }: SchemaFormProps) {
  const properties = Object.entries(schema.properties ?? {});
  const handleChange = useCallback((name: string, next: unknown) => onChange({ ...value, [name]: next }), [onChange, value]);
  if (properties.length === 0) return <p className="muted">This layer has no parameters.</p>;
  return (
    <div className="schema-form">
      {properties.map(([name, property]) => (
        <SchemaField
          key={name}
          name={name}
          schema={property}
          value={value[name]}
          serverErrors={errors[name] ?? NO_ERRORS}
          onChange={handleChange}
        />
      ))}
    </div>
  );
}
