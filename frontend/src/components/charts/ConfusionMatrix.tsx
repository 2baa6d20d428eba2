import { memo } from "react";

interface ConfusionMatrixProps {
  matrix: readonly (readonly number[])[];
  classes: readonly string[];
}

/** Rows are the true class, columns the predicted one; darker cells hold more samples. */
export const ConfusionMatrix = memo(function ConfusionMatrix({ matrix, classes }: ConfusionMatrixProps) {
  const max = Math.max(1, ...matrix.flat());
  const name = (i: number) => classes[i] ?? String(i);
  return (
    <table className="confusion" aria-label="Confusion matrix (rows: true class, columns: predicted class)">
      <thead>
        <tr>
          <th scope="col">true \ predicted</th>
          {matrix.map((_, j) => (
            <th key={j} scope="col">
              {name(j)}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {matrix.map((row, i) => (
          <tr key={i}>
            <th scope="row">{name(i)}</th>
            {row.map((value, j) => {
              const share = value / max;
              return (
                <td
                  key={j}
                  style={{ background: `rgba(37, 99, 235, ${share.toFixed(3)})`, color: share > 0.5 ? "#fff" : undefined }}
                  className={i === j ? "confusion__diag" : undefined}
                >
                  {value}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
});
