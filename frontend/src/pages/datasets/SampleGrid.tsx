import { memo, useMemo, useState } from "react";

import { type DatasetVersion, type WindowPreset, listSamples, previewUrl } from "../../api/datasets";
import { useResource } from "../../hooks/useResource";

const WINDOWS: WindowPreset[] = ["lung", "mediastinum", "bone", "brain"];

/** A few samples per class as images (image and CT data), or the first samples as a list. */
export function SampleGrid({ version }: { version: DatasetVersion }) {
  const input = String(version.recipe?.input ?? "");
  if (input === "image" || input === "ct") return <ThumbnailGrid version={version} ct={input === "ct"} />;
  return <SampleList version={version} />;
}

function ThumbnailGrid({ version, ct }: { version: DatasetVersion; ct: boolean }) {
  const [chosen, setChosen] = useState<number | null>(null);
  const picks = useMemo(() => {
    const thumbs = version.stats?.thumbnails ?? {};
    return Object.entries(thumbs).flatMap(([label, indices]) => indices.slice(0, ct ? 2 : 4).map((index) => ({ label, index })));
  }, [version.stats?.thumbnails, ct]);
  const shape = version.stats?.sample_shape ?? [];
  const depth = ct && shape.length >= 4 ? shape[shape.length - 3]! : 0;
  return (
    <section aria-labelledby="samples-grid-heading">
      <h3 id="samples-grid-heading">Samples</h3>
      <ul className="sample-grid" aria-label="Sample previews">
        {picks.map(({ label, index }) => (
          <li key={index}>
            <button type="button" className="sample-grid__item" onClick={() => setChosen(index)} aria-label={`Sample ${index}, class ${label}`}>
              <img src={previewUrl(version.id, index, { size: 96 })} alt={`sample ${index} (${label})`} width={72} height={72} />
              <span>{label}</span>
            </button>
          </li>
        ))}
      </ul>
      {ct && chosen !== null && <CtViewer versionId={version.id} index={chosen} depth={depth} />}
    </section>
  );
}

/** Scroll through a CT volume's slices under a window preset; each change loads a fresh preview. */
const CtViewer = memo(function CtViewer({ versionId, index, depth }: { versionId: number; index: number; depth: number }) {
  const [slice, setSlice] = useState(Math.floor(depth / 2));
  const [window, setWindow] = useState<WindowPreset>("lung");
  return (
    <div className="ct-viewer" role="group" aria-label={`CT sample ${index}`}>
      <img src={previewUrl(versionId, index, { window, slice: depth ? slice : undefined, size: 256 })} alt={`sample ${index}, slice ${slice}, ${window} window`} width={256} height={256} />
      <div className="ct-viewer__controls">
        <fieldset>
          <legend>Window</legend>
          {WINDOWS.map((w) => (
            <button key={w} type="button" className={`button button--small${w === window ? "" : " button--secondary"}`} aria-pressed={w === window} onClick={() => setWindow(w)}>
              {w}
            </button>
          ))}
        </fieldset>
        {depth > 0 && (
          <label>
            Slice {slice + 1} / {depth}
            <input type="range" min={0} max={depth - 1} value={slice} onChange={(e) => setSlice(Number(e.target.value))} />
          </label>
        )}
      </div>
    </div>
  );
});

function SampleList({ version }: { version: DatasetVersion }) {
  const samples = useResource(`s${version.id}`, (signal) => listSamples(version.id, 1, signal));
  return (
    <section aria-labelledby="samples-list-heading">
      <h3 id="samples-list-heading">Samples</h3>
      <table className="table">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Name</th>
            <th scope="col">Label</th>
            <th scope="col">Split</th>
          </tr>
        </thead>
        <tbody>
          {samples.data?.results.map((s) => (
            <tr key={s.index}>
              <td>{s.index}</td>
              <td>{s.name}</td>
              <td>{s.label}</td>
              <td>{s.split}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
