import { type FormEvent, memo, useState } from "react";

import { type MarketEntry, type Visibility, updateEntry } from "../../api/market";
import { ErrorAlert } from "../../components/ErrorAlert";
import { SelectField } from "../../components/FormField";
import { useFormSubmit } from "../../hooks/useFormSubmit";
import { VISIBILITY_OPTIONS } from "./visibility";

const FIELDS = ["visibility"] as const;

/** The author changes who sees the entry; its versions stay as they are. */
export const VisibilityForm = memo(function VisibilityForm({ entry, onChanged }: { entry: MarketEntry; onChanged: () => void }) {
  const [visibility, setVisibility] = useState<Visibility>(entry.visibility);
  const { submitting, errors, submit } = useFormSubmit(FIELDS);
  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    void submit(async () => {
      await updateEntry(entry.id, { visibility });
      onChanged();
    });
  };
  return (
    <form className="card form" aria-label="Who sees this entry" onSubmit={onSubmit} noValidate>
      <ErrorAlert message={errors.general} />
      <SelectField label="Visibility" value={visibility} onChange={(e) => setVisibility(e.target.value as Visibility)} options={VISIBILITY_OPTIONS} errors={errors.fields.visibility} />
      <button type="submit" className="button" disabled={submitting || visibility === entry.visibility}>
        Change visibility
      </button>
    </form>
  );
});
