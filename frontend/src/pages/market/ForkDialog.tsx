import { type FormEvent, useState } from "react";
import { useNavigate } from "react-router-dom";

import { type MarketVersionSummary, forkVersion } from "../../api/market";
import { ErrorAlert } from "../../components/ErrorAlert";
import { TextField } from "../../components/FormField";
import { Dialog } from "../../editor/components/Dialog";
import { useFormSubmit } from "../../hooks/useFormSubmit";
import { ProjectPicker } from "./ProjectPicker";

const FIELDS = ["project", "name"] as const;

export type ForkPurpose = "fork" | "finetune";

interface ForkDialogProps {
  version: MarketVersionSummary;
  title: string;
  purpose: ForkPurpose;
  onClose: () => void;
}

/** Where the fork lands: its graph on the canvas, or the train page starting from the published weights. */
export function forkDestination(purpose: ForkPurpose, fork: { project: number; graph: number; graph_version: number }, version: number): string {
  if (purpose === "fork") return `/projects/${fork.project}/graphs/${fork.graph}`;
  return `/projects/${fork.project}/train?graph_version=${fork.graph_version}&market_version=${version}`;
}

/**
 * Copies a version into one of the user's projects as a new graph. Fine-tuning forks too (a run
 * trains a graph of its project), then opens the train form with the published weights chosen.
 */
export function ForkDialog({ version, title, purpose, onClose }: ForkDialogProps) {
  const navigate = useNavigate();
  const [project, setProject] = useState("");
  const [name, setName] = useState(purpose === "finetune" ? `${title} (fine-tuned)` : title);
  const { submitting, errors, submit } = useFormSubmit(FIELDS);

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    void submit(async () => {
      const fork = await forkVersion(version.id, Number(project), name.trim());
      void navigate(forkDestination(purpose, fork, version.id));
    });
  };

  return (
    <Dialog title={purpose === "fork" ? `Fork ${title} v${version.number}` : `Fine-tune ${title} v${version.number}`} onClose={onClose}>
      <form className="form" onSubmit={onSubmit} noValidate>
        <p className="muted">
          {purpose === "fork"
            ? "The graph is copied into the project as a new graph and opens on the canvas."
            : "The graph is copied into the project; training then starts from its published weights, with the layers you choose frozen."}
        </p>
        <ErrorAlert message={errors.general} />
        <ProjectPicker label="Project" value={project} onChange={setProject} errors={errors.fields.project} />
        <TextField label="Name of the new graph" value={name} onChange={(e) => setName(e.target.value)} errors={errors.fields.name} />
        <button type="submit" className="button button--primary" disabled={submitting || project === ""}>
          {submitting ? "Forking…" : purpose === "fork" ? "Fork into project" : "Fork and set up training"}
        </button>
      </form>
    </Dialog>
  );
}
