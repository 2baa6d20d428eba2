import { type FormEvent, useState } from "react";

import { type Graph, createGraph } from "../../api/graphs";
import { ErrorAlert } from "../../components/ErrorAlert";
import { TextAreaField, TextField } from "../../components/FormField";
import { useFormSubmit } from "../../hooks/useFormSubmit";

const FIELDS = ["name", "description"] as const;

interface NewGraphFormProps {
  projectId: number;
  onCreated: (graph: Graph) => void;
}

export function NewGraphForm({ projectId, onCreated }: NewGraphFormProps) {
  const { submitting, errors, submit } = useFormSubmit(FIELDS);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");

  const handleSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    let created: Graph | undefined;
    const ok = await submit(async () => {
      created = await createGraph({ project: projectId, name: name.trim(), description: description.trim() });
    });
    if (ok && created) {
      setName("");
      setDescription("");
      onCreated(created);
    }
  };

  return (
    <section className="card" aria-labelledby="new-graph-heading">
      <h2 id="new-graph-heading">New graph</h2>
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
          Create graph
        </button>
      </form>
    </section>
  );
}
