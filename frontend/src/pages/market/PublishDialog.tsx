import { type FormEvent, useMemo, useState } from "react";
import { useNavigate } from "react-router-dom";

import { type EntryKind, type PublishSource, type Visibility, listEntriesOfKind, publishEntry, publishVersion } from "../../api/market";
import { ErrorAlert } from "../../components/ErrorAlert";
import { SelectField, TextAreaField, TextField } from "../../components/FormField";
import { Dialog } from "../../editor/components/Dialog";
import { useFormSubmit } from "../../hooks/useFormSubmit";
import { useResource } from "../../hooks/useResource";
import { useSession } from "../../stores/session";
import { VISIBILITY_OPTIONS } from "./visibility";
// The dialog's styles live with the editor's; this dialog also opens on pages without the editor.
import "../../editor/editor.css";

const FIELDS = ["title", "description", "licence", "visibility", "changelog"] as const;
const NEW_ENTRY = "";

interface PublishDialogProps {
  source: PublishSource;
  /** What the source is published as: a trained model, or a graph as a template. */
  kind: EntryKind;
  defaultTitle: string;
  onClose: () => void;
}

/**
 * Publishes a trained model or a graph version to the market: as a new entry, or as the next
 * version of an entry of the same kind that the user authors. Opens the entry when done.
 */
export function PublishDialog({ source, kind, defaultTitle, onClose }: PublishDialogProps) {
  const navigate = useNavigate();
  const username = useSession((s) => s.user?.username);
  const entries = useResource(`own-${kind}`, (signal) => listEntriesOfKind(kind, signal));
  const own = useMemo(() => (entries.data?.results ?? []).filter((e) => e.author === username), [entries.data, username]);
  const [target, setTarget] = useState(NEW_ENTRY);
  const [title, setTitle] = useState(defaultTitle);
  const [description, setDescription] = useState("");
  const [licence, setLicence] = useState("");
  const [visibility, setVisibility] = useState<Visibility>("private");
  const [changelog, setChangelog] = useState("");
  const { submitting, errors, submit } = useFormSubmit(FIELDS);
  const fresh = target === NEW_ENTRY;

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    void submit(async () => {
      // A new version keeps the entry's fields unless some are given: blank ones are left out.
      const fields = { title, description, licence, changelog, visibility: fresh ? visibility : undefined };
      const entryId = fresh ? (await publishEntry(source, fields)).id : (await publishVersion(Number(target), source, fields)).entry;
      void navigate(`/market/${entryId}`);
    });
  };
  const pick = (value: string) => {
    setTarget(value);
    setTitle(own.find((e) => String(e.id) === value)?.title ?? defaultTitle);
  };
  const targets = [
    { value: NEW_ENTRY, label: "A new entry" },
    ...own.map((e) => ({ value: String(e.id), label: `A new version of “${e.title}” (now v${e.latest_version ?? 0})` })),
  ];

  return (
    <Dialog title={kind === "model" ? "Publish the model to the market" : "Publish the graph as a template"} onClose={onClose}>
      <form className="form" onSubmit={onSubmit} noValidate>
        <ErrorAlert message={errors.general ?? entries.error?.message} />
        <SelectField label="Publish as" value={target} onChange={(e) => pick(e.target.value)} options={targets} />
        <TextField label="Title" value={title} onChange={(e) => setTitle(e.target.value)} errors={errors.fields.title} required={fresh} />
        <TextAreaField label="Description" value={description} onChange={(e) => setDescription(e.target.value)} errors={errors.fields.description} />
        <TextField label="Licence" placeholder="e.g. CC-BY-4.0" value={licence} onChange={(e) => setLicence(e.target.value)} errors={errors.fields.licence} />
        {fresh ? (
          <SelectField label="Visibility" value={visibility} onChange={(e) => setVisibility(e.target.value as Visibility)} options={VISIBILITY_OPTIONS} errors={errors.fields.visibility} />
        ) : (
          <TextField label="What changed" value={changelog} onChange={(e) => setChangelog(e.target.value)} errors={errors.fields.changelog} />
        )}
        <button type="submit" className="button button--primary" disabled={submitting}>
          {submitting ? "Publishing…" : "Publish"}
        </button>
      </form>
    </Dialog>
  );
}
