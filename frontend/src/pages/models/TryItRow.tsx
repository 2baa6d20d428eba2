import { type FormEvent, useState } from "react";

import type { TableRow, TensorSpec } from "../../api/deploy";
import { SelectField, TextField } from "../../components/FormField";

/** One column of the table encoding recorded on the model card (its input's preprocessing). */
export interface RowFeature {
  column: string;
  kind: "numeric" | "categorical" | string;
  categories?: string[];
}

/** The columns a table model takes, from its input contract; [] when the card records none. */
export function rowFeatures(input: TensorSpec): RowFeature[] {
  const encoding = input.preprocessing?.encoding as { features?: unknown } | undefined;
  const features = Array.isArray(encoding?.features) ? encoding.features : [];
  return features.filter((f): f is RowFeature => typeof f === "object" && f !== null && typeof (f as RowFeature).column === "string");
}

/** A form with one field per column; an empty field is sent as null (missing). */
export function RowForm({ features, busy, fieldErrors, onSubmit }: { features: RowFeature[]; busy: boolean; fieldErrors: Record<string, string>; onSubmit: (row: TableRow) => void }) {
  const [values, setValues] = useState<Record<string, string>>({});
  const set = (column: string, value: string) => setValues((previous) => ({ ...previous, [column]: value }));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const row: TableRow = {};
    for (const f of features) {
      const text = (values[f.column] ?? "").trim();
      row[f.column] = text === "" ? null : f.kind === "numeric" && Number.isFinite(Number(text)) ? Number(text) : text;
    }
    onSubmit(row);
  };
  return (
    <form onSubmit={submit} aria-label="Table row">
      {features.map((f) => {
        const errors = fieldErrors[f.column] ? [fieldErrors[f.column]!] : undefined;
        return f.kind === "categorical" && f.categories ? (
          <SelectField
            key={f.column}
            label={f.column}
            value={values[f.column] ?? ""}
            onChange={(e) => set(f.column, e.target.value)}
            options={[{ value: "", label: "(missing)" }, ...f.categories.map((c) => ({ value: c, label: c }))]}
            errors={errors}
          />
        ) : (
          <TextField key={f.column} label={f.column} inputMode={f.kind === "numeric" ? "decimal" : "text"} value={values[f.column] ?? ""} onChange={(e) => set(f.column, e.target.value)} errors={errors} />
        );
      })}
      <button type="submit" className="button button--small" disabled={busy}>
        Predict this row
      </button>
    </form>
  );
}
