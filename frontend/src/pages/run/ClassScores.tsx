import { type ClassScore, formatScore } from "./classScores";

/** Dice and IoU of every class on the test split, as numbers (a segmentation run). */
export function ClassScores({ scores }: { scores: readonly ClassScore[] }) {
  if (scores.length === 0) return null;
  return (
    <table className="table" aria-label="Dice and IoU per class" data-testid="class-scores">
      <thead>
        <tr>
          <th scope="col">Class</th>
          <th scope="col">Dice</th>
          <th scope="col">IoU</th>
        </tr>
      </thead>
      <tbody>
        {scores.map((row, i) => (
          <tr key={i}>
            <th scope="row">{row.name}</th>
            <td>{formatScore(row.dice)}</td>
            <td>{formatScore(row.iou)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
