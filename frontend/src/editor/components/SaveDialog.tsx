import { type FormEvent, useState } from "react";

import { ApiError } from "../../api/client";
import { ErrorAlert } from "../../components/ErrorAlert";
import { useUi } from "../stores/uiStore";
import { useValidation } from "../stores/validationStore";
import { useVersions } from "../stores/versionsStore";
import { Dialog } from "./Dialog";

/** Save the canvas as a new version, with a message. */
export function SaveDialog() {
  const close = useUi((s) => s.closeDialog);
  const notify = useUi((s) => s.notify);
  const save = useVersions((s) => s.save);
  const saving = useVersions((s) => s.saving);
  const ok = useValidation((s) => s.report?.ok ?? false);
  const [message, setMessage] = useState("");
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      const version = await save(message.trim());
      notify(`Saved version ${version.number}.`);
      close();
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : "Could not save.");
    }
  };

  return (
    <Dialog title="Save a version" onClose={close}>
      <form className="form" onSubmit={(event) => void submit(event)}>
        <ErrorAlert message={error} />
        {!ok && (
          <p className="muted">
            The graph has problems: it will be saved as a draft, and code and training need a valid version.
          </p>
        )}
        <div className="field">
          <label className="field__label" htmlFor="version-message">
            Message
          </label>
          <input
            id="version-message"
            className="field__control"
            value={message}
            maxLength={500}
            placeholder="What changed?"
            onChange={(event) => setMessage(event.target.value)}
          />
        </div>
        <button type="submit" className="button button--primary" disabled={saving}>
          {saving ? "Saving…" : "Save version"}
        </button>
      </form>
    </Dialog>
  );
}
