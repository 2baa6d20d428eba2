import { type FormEvent, memo, useState } from "react";

import { SelectField, TextField } from "../../components/FormField";
import { type MarketFilters, SIZES, SORTS } from "./marketQuery";

const ANY = { value: "", label: "Any" };
const TASKS = [ANY, ...["classification", "regression", "segmentation"].map((value) => ({ value, label: value }))];
// The server's one modality list (domain/market/modality.py): other spellings are stored as these.
const MODALITIES = [
  ANY,
  { value: "image", label: "Images" },
  { value: "ct", label: "CT scans" },
  { value: "table", label: "Tables" },
  { value: "text", label: "Text" },
];
const KINDS = [ANY, { value: "model", label: "Trained models" }, { value: "template", label: "Templates (no weights)" }];
const SIZE_OPTIONS = Object.entries(SIZES).map(([value, { label }]) => ({ value, label }));
const SORT_OPTIONS = SORTS.map(({ value, label }) => ({ value, label }));

interface MarketFiltersFormProps {
  filters: MarketFilters;
  /** Called with the new filters (back on page 1); the text applies on submit, the rest at once. */
  onChange: (filters: MarketFilters) => void;
}

/** Search text, the filters and the sort order of the market's list. */
export const MarketFiltersForm = memo(function MarketFiltersForm({ filters, onChange }: MarketFiltersFormProps) {
  const [text, setText] = useState(filters.q);
  const [accuracy, setAccuracy] = useState(filters.accuracy);
  const change = (key: keyof Omit<MarketFilters, "page">) => (event: { target: { value: string } }) =>
    onChange({ ...filters, q: text, accuracy, [key]: event.target.value, page: 1 });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onChange({ ...filters, q: text, accuracy, page: 1 });
  };

  return (
    <form className="card market-filters" role="search" aria-label="Search the market" onSubmit={submit}>
      <div className="market-filters__search">
        <TextField label="Search" type="search" placeholder="Title or description" value={text} onChange={(e) => setText(e.target.value)} />
        <button type="submit" className="button button--primary">
          Search
        </button>
      </div>
      <div className="form-grid market-filters__grid">
        <SelectField label="Task" value={filters.task} onChange={change("task")} options={TASKS} />
        <SelectField label="Modality" value={filters.modality} onChange={change("modality")} options={MODALITIES} />
        <SelectField label="Kind" value={filters.kind} onChange={change("kind")} options={KINDS} />
        <SelectField label="Size" value={filters.size} onChange={change("size")} options={SIZE_OPTIONS} />
        <TextField
          label="Minimum accuracy (%)"
          type="number"
          min={0}
          max={100}
          value={accuracy}
          onChange={(e) => setAccuracy(e.target.value)}
          onBlur={() => accuracy !== filters.accuracy && onChange({ ...filters, q: text, accuracy, page: 1 })}
        />
        <SelectField label="Sort by" value={filters.sort} onChange={change("sort")} options={SORT_OPTIONS} />
      </div>
    </form>
  );
});
