import { type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes, type TextareaHTMLAttributes, useId } from "react";

interface ControlProps {
  id: string;
  "aria-describedby": string | undefined;
  "aria-invalid": true | undefined;
}

interface FieldProps {
  label: string;
  /** A short note under the label, e.g. "Optional." */
  hint?: string;
  errors?: readonly string[];
  children: (control: ControlProps) => ReactNode;
}

/** A label, its control, and the control's hint and errors, wired together for assistive tech. */
function Field({ label, hint, errors = [], children }: FieldProps) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [hint ? hintId : null, errors.length > 0 ? errorId : null].filter(Boolean).join(" ");

  return (
    <div className="field">
      <label className="field__label" htmlFor={id}>
        {label}
      </label>
      {hint && (
        <p className="field__hint" id={hintId}>
          {hint}
        </p>
      )}
      {children({
        id,
        "aria-describedby": describedBy || undefined,
        "aria-invalid": errors.length > 0 ? true : undefined,
      })}
      {errors.length > 0 && (
        <ul className="field__errors" id={errorId}>
          {errors.map((message) => (
            <li key={message}>{message}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

type SharedProps = Omit<FieldProps, "children">;

export function TextField({
  label,
  hint,
  errors,
  ...inputProps
}: SharedProps & Omit<InputHTMLAttributes<HTMLInputElement>, "id">) {
  return (
    <Field label={label} hint={hint} errors={errors}>
      {(control) => <input className="field__control" {...inputProps} {...control} />}
    </Field>
  );
}

export function TextAreaField({
  label,
  hint,
  errors,
  ...textareaProps
}: SharedProps & Omit<TextareaHTMLAttributes<HTMLTextAreaElement>, "id">) {
  return (
    <Field label={label} hint={hint} errors={errors}>
      {(control) => <textarea className="field__control" rows={3} {...textareaProps} {...control} />}
    </Field>
  );
}

export function SelectField({
  label,
  hint,
  errors,
  options,
  ...selectProps
}: SharedProps & { options: readonly { value: string; label: string }[] } & Omit<SelectHTMLAttributes<HTMLSelectElement>, "id">) {
  return (
    <Field label={label} hint={hint} errors={errors}>
      {(control) => (
        <select className="field__control" {...selectProps} {...control}>
          {options.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}
