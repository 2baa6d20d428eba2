import type { MetricRow } from "./cardText";

/** Each metric on validation and test, one row per metric (a model card, a finished run). */
export function MetricsTable({ rows, label, validationHeading = "Validation", className = "table" }: {
  rows: MetricRow[];
  label: string;
  validationHeading?: string;
  className?: string;
}) {
  return (
    <table className={className} aria-label={label}>
      <thead>
        <tr>
          <th scope="col">Metric</th>
          <th scope="col">{validationHeading}</th>
          <th scope="col">Test</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.key}>
            <th scope="row">{row.label}</th>
            <td>{row.validation}</td>
            <td>{row.test}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
