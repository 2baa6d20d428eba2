/**
 * The server's refusals of a torchvision weights import, in words a person understands. Each
 * message keeps the server's exact reason after the plain words: it names the file and the
 * tensors, which is what someone fixing the file needs.
 */
import { ApiError, type FieldErrors } from "../../api/client";

type Explain = (reason: string) => string | null;

const plural = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;

/** "x.safetensors does not fit resnet18 with 10 classes: missing (2): ...; unexpected (1): ...". */
function explainMismatch(reason: string): string | null {
  const fit = /does not fit (\S+) with (\d+) classes: /.exec(reason);
  if (!fit) return null;
  const [, architecture = "", classes = ""] = fit;
  const counts = new Map<string, number>();
  for (const [, kind = "", count = "0"] of reason.matchAll(/(missing|unexpected|wrong shape) \((\d+)\)/g)) counts.set(kind, Number(count));
  const missing = counts.get("missing") ?? 0;
  const unexpected = counts.get("unexpected") ?? 0;
  const wrong = counts.get("wrong shape") ?? 0;
  const problems = [
    missing && `${plural(missing, "tensor", "tensors")} that ${architecture} needs ${missing === 1 ? "is" : "are"} not in the file`,
    unexpected && `${plural(unexpected, "tensor", "tensors")} in the file ${unexpected === 1 ? "is" : "are"} not part of ${architecture}`,
    wrong && `${plural(wrong, "tensor has", "tensors have")} the wrong shape`,
  ].filter(Boolean);
  const hint =
    missing && unexpected
      ? " Are these the weights of another architecture?"
      : wrong && !missing && !unexpected
        ? " If only the classifier head differs, leave “Number of classes” empty to use the file's."
        : "";
  return `These weights do not fit ${architecture} with ${classes} classes: ${problems.join("; ")}.${hint}`;
}

const WEIGHTS: readonly (readonly [RegExp, string])[] = [
  [/torch\.load\(weights_only=True\)/, "This checkpoint needs more than tensors to load, so loading it could run code: it was refused, and nothing in it was run. Save a plain state dict (torch.save(model.state_dict(), path)) or a .safetensors file."],
  [/not a readable safetensors/, "This is not a readable .safetensors file."],
  [/neither a PyTorch checkpoint nor safetensors/, "This file is neither a PyTorch checkpoint nor a .safetensors file."],
  [/holds no tensors/, "The file holds no tensors."],
  [/has no classifier head of/, "The file has no classifier head for this architecture, so the number of classes is unknown: give it."],
  [/not a state dict|not a tensor|is not a string/, "The file does not hold a state dict (tensors by name)."],
  [/is larger than/, "The file is too large to import."],
];

const FIELDS: Readonly<Record<string, Explain>> = {
  weights: (reason) => explainMismatch(reason) ?? lookup(WEIGHTS, reason),
  architecture: (reason) =>
    /is not supported/.test(reason) ? "This installation cannot import that architecture; pick one from the list." : /can't be imported/.test(reason) ? "This architecture cannot be turned into a graph here." : null,
  input_size: (reason) => (/can't take/.test(reason) ? "The architecture cannot take images of this size." : null),
  classes: (reason) => {
    const head = /class names for a head of (\d+) classes/.exec(reason);
    return head ? `Give exactly one class name per output: the head has ${head[1]} outputs.` : null;
  },
  project: (reason) => (/needs a project/.test(reason) ? "Pick the project whose members may see the entry." : null),
};

function lookup(table: readonly (readonly [RegExp, string])[], reason: string): string | null {
  return table.find(([pattern]) => pattern.test(reason))?.[1] ?? null;
}

/** One refusal of `field`: plain words, then the server's reason in brackets; unknown ones as they came. */
export function explainRefusal(field: string, reason: string): string {
  const lead = FIELDS[field]?.(reason);
  return lead ? `${lead} (${reason})` : reason;
}

/** The same error with every field's messages explained; anything that is not an ApiError as it was. */
export function explainImportError(error: unknown): unknown {
  if (!(error instanceof ApiError)) return error;
  const fields: FieldErrors = {};
  for (const [field, reasons] of Object.entries(error.fieldErrors)) fields[field] = reasons.map((reason) => explainRefusal(field, reason));
  return new ApiError(error.status, error.detail, fields, error.body);
}
