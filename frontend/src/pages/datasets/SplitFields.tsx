import { SelectField, TextField } from "../../components/FormField";
import type { FieldErrors } from "../../api/client";

/**
 * Train / validation / test shares, the split strategy and its seed, as the ingest options take
 * them (`val_fraction`, `test_fraction`, `split_strategy`, `seed`; training gets the rest).
 * Errors are keyed like the server's (`options.val_fraction`; `options` for the sum), so a
 * check made here and one the server makes show at the same field.
 */
export type SplitStrategy = "stratified" | "random";

export interface SplitValues {
  train: string;
  val: string;
  test: string;
  strategy: SplitStrategy;
  seed: string;
}

export const DEFAULT_SPLIT: SplitValues = { train: "0.8", val: "0.1", test: "0.1", strategy: "stratified", seed: "0" };

/** The option paths these fields show errors for. */
export const SPLIT_ERROR_KEYS = ["options", "options.val_fraction", "options.test_fraction", "options.split_strategy", "options.seed"] as const;

// The server's limits (pipelines/datasets/options.py): each held-out share at most 0.9, and at
// least 5% left for training.
const MAX_HELD_OUT = 0.9;
const MIN_TRAIN = 0.05;
const MAX_SEED = 2 ** 31 - 1;

function share(text: string): number | null {
  const value = Number(text);
  return text.trim() !== "" && Number.isFinite(value) ? value : null;
}

const round = (value: number) => Number(value.toFixed(4));

/** Problems with the values, keyed like the server's errors; empty when they can be sent. */
export function splitErrors(values: SplitValues): FieldErrors {
  const errors: FieldErrors = {};
  const train = share(values.train);
  const val = share(values.val);
  const test = share(values.test);
  for (const [key, value] of [["options.val_fraction", val], ["options.test_fraction", test]] as const) {
    if (value === null) errors[key] = ["Enter a number between 0 and 0.9."];
    else if (value < 0 || value > MAX_HELD_OUT) errors[key] = [`Must be between 0 and ${MAX_HELD_OUT}.`];
  }
  if (train === null) errors.options = ["Enter a number."];
  else if (val !== null && test !== null && !errors["options.val_fraction"] && !errors["options.test_fraction"]) {
    if (Math.abs(train + val + test - 1) > 1e-6) errors.options = [`Train, validation and test must add up to 1 (now ${round(train + val + test)}).`];
    else if (train < MIN_TRAIN) errors.options = [`Leave at least ${MIN_TRAIN} for training.`];
  }
  const seed = Number(values.seed);
  if (values.seed.trim() === "" || !Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) errors["options.seed"] = [`Enter a whole number from 0 to ${MAX_SEED}.`];
  return errors;
}

/** The ingest options for valid values. */
export function splitOptions(values: SplitValues): { val_fraction: number; test_fraction: number; split_strategy: SplitStrategy; seed: number } {
  return { val_fraction: Number(values.val), test_fraction: Number(values.test), split_strategy: values.strategy, seed: Number(values.seed) };
}

const STRATEGIES = [
  { value: "stratified", label: "Stratified by label" },
  { value: "random", label: "Random" },
];

export function SplitFields({ values, onChange, errors }: { values: SplitValues; onChange: (next: SplitValues) => void; errors: FieldErrors }) {
  // Training takes what the held-out splits leave, until the user sets it by hand.
  const setHeldOut = (key: "val" | "test") => (text: string) => {
    const next = { ...values, [key]: text };
    const val = share(next.val);
    const test = share(next.test);
    onChange(val !== null && test !== null ? { ...next, train: String(round(1 - val - test)) } : next);
  };
  return (
    <fieldset className="split-fields">
      <legend>Split</legend>
      <p className="field__hint">
        Stratified keeps each split&apos;s label mix; random ignores labels. Samples of one group (a patient, a document, a group column) always stay in one split.
      </p>
      <TextField label="Train fraction" type="number" step={0.05} min={0} max={1} value={values.train} onChange={(e) => onChange({ ...values, train: e.target.value })} errors={errors.options} />
      <TextField label="Validation fraction" type="number" step={0.05} min={0} max={MAX_HELD_OUT} value={values.val} onChange={(e) => setHeldOut("val")(e.target.value)} errors={errors["options.val_fraction"]} />
      <TextField label="Test fraction" type="number" step={0.05} min={0} max={MAX_HELD_OUT} value={values.test} onChange={(e) => setHeldOut("test")(e.target.value)} errors={errors["options.test_fraction"]} />
      <SelectField label="Split strategy" value={values.strategy} onChange={(e) => onChange({ ...values, strategy: e.target.value as SplitStrategy })} options={STRATEGIES} errors={errors["options.split_strategy"]} />
      <TextField label="Split seed" type="number" min={0} step={1} value={values.seed} onChange={(e) => onChange({ ...values, seed: e.target.value })} errors={errors["options.seed"]} />
    </fieldset>
  );
}
