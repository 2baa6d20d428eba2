import { type FormEvent, useId, useState } from "react";

import { useFormSubmit } from "../hooks/useFormSubmit";
import { ErrorAlert } from "./ErrorAlert";
import { TextAreaField, TextField } from "./FormField";

const FIELDS = ["name", "description"] as const;

export interface NameAndDescription {
  name: string;
  description: string;
}

interface NamedItemFormProps<T> {
  /** Section heading, e.g. "New project". */
  title: string;
  /** Submit button text, e.g. "Create project". */
  submitLabel: string;
  /** Creates the item; an ApiError's field errors are shown on Name and Description. */
  create: (input: NameAndDescription) => Promise<T>;
  onCreated: (item: T) => void;
}

/** The "name + description" creation form that projects and graphs share. */
export function NamedItemForm<T>({ title, submitLabel, create, onCreated }: NamedItemFormProps<T>) {
  const headingId = useId();
  const { submitting, errors, submit } = useFormSubmit(FIELDS);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");

  const handleSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    let created: T | undefined;
    const ok = await submit(async () => {
      created = await create({ name: name.trim(), description: description.trim() });
    });
    if (ok && created !== undefined) {
      setName("");
      setDescription("");
      onCreated(created);
    }
  };

  return (
    <section className="card" aria-labelledby={headingId}>
      <h2 id={headingId}>{title}</h2>
      <ErrorAlert message={errors.general} />
      <form className="form" onSubmit={(event) => void handleSubmit(event)} noValidate aria-busy={submitting}>
        <TextField
          label="Name"
          name="name"
          required
          maxLength={200}
          value={name}
          onChange={(event) => setName(event.target.value)}
          errors={errors.fields.name}
        />
        <TextAreaField
          label="Description"
          name="description"
          value={description}
          onChange={(event) => setDescription(event.target.value)}
          errors={errors.fields.description}
        />
        <button type="submit" className="button button--primary" disabled={submitting}>
          {submitLabel}
        </button>
      </form>
    </section>
  );
}
