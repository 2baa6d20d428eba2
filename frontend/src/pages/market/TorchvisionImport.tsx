import { type FormEvent, memo, useId, useState } from "react";
import { useNavigate } from "react-router-dom";

import type { FieldErrors } from "../../api/client";
import { type Visibility, importTorchvision } from "../../api/market";
import { listTemplates } from "../../api/templates";
import { ErrorAlert } from "../../components/ErrorAlert";
import { SelectField, TextAreaField, TextField } from "../../components/FormField";
import { useFormSubmit } from "../../hooks/useFormSubmit";
import { useResource } from "../../hooks/useResource";
import { ImportProgress } from "./ImportProgress";
import { type MarketImportJob, waitForImport } from "./importJob";
import { ProjectPicker } from "./ProjectPicker";
import { explainImportError } from "./torchvisionRefusals";
import { VISIBILITY_OPTIONS } from "./visibility";

const FIELDS = ["architecture", "weights", "input_size", "num_classes", "classes", "title", "description", "licence", "visibility", "project"] as const;
const WEIGHTS_FILES = ".safetensors,.pt,.pth,.bin,.ckpt";

/** Class names typed one per line; blank lines are left out. */
export function parseClassNames(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
}

/**
 * Publishes a torchvision architecture with pretrained weights the user uploads as a new trained
 * model of theirs: the server answers with an import job, shown with its progress until a worker
 * has published it, then the entry opens. The architectures are the server's list; each refusal
 * is shown at the field it concerns, in plain words followed by the server's reason.
 */
export const TorchvisionImport = memo(function TorchvisionImport() {
  const headingId = useId();
  const navigate = useNavigate();
  const templates = useResource("templates", (signal) => listTemplates(signal));
  const [architecture, setArchitecture] = useState("");
  const [weights, setWeights] = useState<File | null>(null);
  const [inputSize, setInputSize] = useState("224");
  const [numClasses, setNumClasses] = useState("");
  const [classNames, setClassNames] = useState("");
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [licence, setLicence] = useState("");
  const [visibility, setVisibility] = useState<Visibility>("private");
  const [project, setProject] = useState("");
  const { submitting, errors, submit } = useFormSubmit(FIELDS);
  // Checked here before sending: a file and an architecture.
  const [missing, setMissing] = useState<FieldErrors>({});
  const [job, setJob] = useState<MarketImportJob | null>(null);

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const unfilled = {
      ...(architecture === "" ? { architecture: ["Choose the architecture the weights are for."] } : {}),
      ...(weights === null ? { weights: ["Choose a weights file (.safetensors, or a PyTorch checkpoint)."] } : {}),
    };
    setMissing(unfilled);
    if (weights === null || architecture === "") return;
    void submit(async () => {
      // The answer is a job (202) that a worker runs; src/api/market.ts still types it as the entry.
      const started = importTorchvision(weights, {
        architecture,
        input_size: Number(inputSize),
        num_classes: numClasses.trim() === "" ? undefined : Number(numClasses),
        classes: parseClassNames(classNames),
        title,
        description,
        licence,
        visibility,
        project: visibility === "organization" && project !== "" ? Number(project) : undefined,
      });
      const entry = await started
        .then((accepted) => waitForImport(accepted, setJob))
        .catch((error: unknown) => Promise.reject(explainImportError(error)))
        .finally(() => setJob(null));
      void navigate(`/market/${entry.id}`);
    });
  };
  const fieldErrors = (name: (typeof FIELDS)[number]) => missing[name] ?? errors.fields[name];
  const architectures = templates.data?.torchvision ?? [];

  return (
    <form className="card market-import" aria-labelledby={headingId} onSubmit={onSubmit} noValidate>
      <h2 id={headingId}>Import torchvision weights</h2>
      <p className="muted">Pretrained weights of a torchvision classifier become a trained model of yours, to fork and fine-tune. Nothing in the file is run.</p>
      <ErrorAlert message={errors.general ?? templates.error?.message} />
      <ImportProgress job={job} />
      <SelectField
        label="Architecture"
        value={architecture}
        onChange={(e) => setArchitecture(e.target.value)}
        errors={fieldErrors("architecture")}
        options={[{ value: "", label: templates.loading && !templates.data ? "Loading architectures…" : "Choose an architecture" }, ...architectures.map((name) => ({ value: name, label: name }))]}
      />
      <TextField label="Weights file" hint=".safetensors, or a PyTorch state dict (.pt, .pth)." type="file" accept={WEIGHTS_FILES} onChange={(e) => setWeights(e.target.files?.[0] ?? null)} errors={fieldErrors("weights")} />
      <TextField label="Input size" hint="Height and width of the images, in pixels." type="number" min={32} max={1024} value={inputSize} onChange={(e) => setInputSize(e.target.value)} errors={fieldErrors("input_size")} />
      <TextField label="Number of classes" hint="Optional: empty uses the head in the file." type="number" min={1} value={numClasses} onChange={(e) => setNumClasses(e.target.value)} errors={fieldErrors("num_classes")} />
      <TextAreaField label="Class names" hint="Optional: one per line, in the order of the outputs." value={classNames} onChange={(e) => setClassNames(e.target.value)} errors={fieldErrors("classes")} />
      <TextField label="Title" placeholder={architecture ? `${architecture} (${weights?.name ?? "file name"})` : ""} value={title} onChange={(e) => setTitle(e.target.value)} errors={fieldErrors("title")} />
      <TextAreaField label="Description" value={description} onChange={(e) => setDescription(e.target.value)} errors={fieldErrors("description")} />
      <TextField label="Licence of the weights" placeholder="e.g. BSD-3-Clause" value={licence} onChange={(e) => setLicence(e.target.value)} errors={fieldErrors("licence")} />
      <SelectField label="Visibility of the model" value={visibility} onChange={(e) => setVisibility(e.target.value as Visibility)} options={VISIBILITY_OPTIONS} errors={fieldErrors("visibility")} />
      {visibility === "organization" && <ProjectPicker label="Project of the model" value={project} onChange={setProject} errors={fieldErrors("project")} />}
      <button type="submit" className="button" disabled={submitting}>
        {submitting ? "Importing…" : "Import weights"}
      </button>
    </form>
  );
});
