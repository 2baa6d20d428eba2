import { Fragment } from "react";

import { type SeriesReport, type SeriesWarning, WARNING_TITLES } from "./ctReport";

const mm = (value: number) => (Number.isInteger(value) ? String(value) : value.toFixed(2));

/**
 * Every series of a CT dataset as a radiologist reads it (pseudonyms, slices, spacing, thickness,
 * orientation, HU range, kVp), each followed by the warnings about its geometry. With `onView`,
 * a series' name is a button that picks the series shown in the planes.
 */
export function CtSeriesTable({ series, selected, onView }: { series: SeriesReport[]; selected?: number; onView?: (entry: SeriesReport) => void }) {
  const warned = series.filter((entry) => entry.warnings.length > 0).length;
  const total = series.reduce((sum, entry) => sum + entry.warnings.length, 0);
  return (
    <section aria-labelledby="ct-series-heading">
      <h3 id="ct-series-heading">
        Series: {series.length}
        {total > 0 && <span className="ct-series__count"> · {total} warnings in {warned} of {series.length} series</span>}
      </h3>
      <div className="ct-series__scroll">
        <table className="table ct-series" aria-label="Series">
          <thead>
            <tr>
              <th scope="col">Series <span className="muted">patient · study · series</span></th>
              <th scope="col">Slices</th>
              <th scope="col">Spacing (mm)</th>
              <th scope="col">Thickness (mm)</th>
              <th scope="col">Orientation</th>
              <th scope="col">HU range</th>
              <th scope="col">kVp</th>
            </tr>
          </thead>
          <tbody>
            {series.map((entry) => (
              <Fragment key={entry.series}>
                <tr className={`ct-series__row${entry.warnings.length ? " ct-series__row--warned" : ""}${entry.sample === selected ? " ct-series__row--selected" : ""}`} aria-label={entry.name}>
                  <th scope="row">
                    {onView && entry.sample !== undefined ? (
                      <button type="button" className="ct-series__view" aria-label={`View ${entry.name}`} aria-pressed={entry.sample === selected} title="Show this series in the three planes" onClick={() => onView(entry)}>
                        {entry.name}
                      </button>
                    ) : (
                      entry.name
                    )}
                    <span className="ct-series__ids muted">
                      {entry.patient} · {entry.study ?? "study unknown"} · {entry.series}
                    </span>
                  </th>
                  <td>{entry.slices}</td>
                  <td>{entry.spacing_mm.map(mm).join(" × ")}</td>
                  <td>{entry.thickness_mm === null ? "—" : mm(entry.thickness_mm)}</td>
                  <td>{entry.orientation ?? "—"}</td>
                  <td>{entry.hu_range ? `${entry.hu_range[0]} … ${entry.hu_range[1]}` : "—"}</td>
                  <td>{entry.kvp ?? "—"}</td>
                </tr>
                {entry.warnings.length > 0 && (
                  <tr className="ct-series__warnings">
                    <td colSpan={7}>
                      <ul aria-label={`Warnings of ${entry.name}`}>
                        {entry.warnings.map((warning) => (
                          <SeriesWarningItem key={warning.code} warning={warning} />
                        ))}
                      </ul>
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function SeriesWarningItem({ warning }: { warning: SeriesWarning }) {
  return (
    <li data-code={warning.code}>
      <strong>{WARNING_TITLES[warning.code] ?? warning.code}</strong> <code>{warning.code}</code>: {warning.message}
      {warning.positions_mm && warning.positions_mm.length > 1 && <PositionStrip positions={warning.positions_mm} gaps={[]} />}
      {warning.gaps_mm && warning.gaps_mm.length > 0 && !warning.positions_mm && <PositionStrip positions={warning.gaps_mm.flat()} gaps={warning.gaps_mm} />}
    </li>
  );
}

/** The slice positions along the normal as ticks on a line, wide gaps shaded. */
export function PositionStrip({ positions, gaps }: { positions: number[]; gaps: number[][] }) {
  const width = 360;
  const low = Math.min(...positions);
  const span = Math.max(...positions) - low || 1;
  const x = (p: number) => 8 + ((p - low) / span) * (width - 16);
  return (
    <svg className="ct-positions" viewBox={`0 0 ${width} 30`} width={width} height={30} role="img" aria-label={`Slice positions (mm): ${positions.join(", ")}`}>
      <line x1={8} x2={width - 8} y1={12} y2={12} className="ct-positions__axis" />
      {gaps.map(([from, to]) => (
        <rect key={`${from}-${to}`} x={x(from!)} width={Math.max(1, x(to!) - x(from!))} y={4} height={16} className="ct-positions__gap" />
      ))}
      {positions.map((p, i) => (
        <line key={`${p}-${i}`} x1={x(p)} x2={x(p)} y1={4} y2={20} className="ct-positions__tick" />
      ))}
      <text x={8} y={29} className="chart__tick">{low} mm</text>
      <text x={width - 8} y={29} textAnchor="end" className="chart__tick">{low + span} mm</text>
    </svg>
  );
}
