import { useReactFlow } from "@xyflow/react";
import { type DragEvent, type KeyboardEvent, type MouseEvent, memo, useCallback, useDeferredValue, useMemo, useState } from "react";

import type { LayerSpec } from "../../api/layers";
import { useGraph } from "../stores/graphStore";
import { useLayers } from "../stores/layersStore";
import { LAYER_DRAG_TYPE } from "./Canvas";

/** Layers whose id, category or one-line doc contain every word of the query. */
export function filterLayers(layers: readonly LayerSpec[], query: string): LayerSpec[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [...layers];
  return layers.filter((layer) => {
    const text = `${layer.id} ${layer.id.replace(/_/g, " ")} ${layer.category} ${layer.doc}`.toLowerCase();
    return words.every((word) => text.includes(word));
  });
}

/** The layer Enter adds from the search: the one whose id is the query (spaces read as "_"), else the first match. */
export function bestMatch(layers: readonly LayerSpec[], query: string): LayerSpec | undefined {
  const id = query.trim().toLowerCase().replace(/\s+/g, "_");
  const found = filterLayers(layers, query);
  return found.find((layer) => layer.id === id) ?? found[0];
}

/** The layer registry, grouped by category and searchable; drag onto the canvas, double-click, or
 *  type a name and press Enter (a whole network from the keyboard: each layer lands after the last). */
export function Palette() {
  const layers = useLayers((s) => s.layers);
  const categories = useLayers((s) => s.categories);
  const [query, setQuery] = useState("");
  const deferred = useDeferredValue(query);
  const matches = useMemo(() => filterLayers(layers, deferred), [layers, deferred]);
  const { getViewport, setCenter } = useReactFlow();

  // Added after the selection, a layer may land outside the view: bring it in.
  const add = useCallback(
    (type: string) => {
      const id = useGraph.getState().addLayerAfterSelection(type);
      const node = useGraph.getState().nodes.find((n) => n.id === id);
      const pane = document.querySelector(".react-flow")?.getBoundingClientRect();
      if (!node || !pane) return;
      const { x, y, zoom } = getViewport();
      const left = node.position.x * zoom + x;
      const top = node.position.y * zoom + y;
      if (left < 0 || top < 0 || left + 200 * zoom > pane.width || top + 80 * zoom > pane.height) {
        void setCenter(node.position.x + 100, node.position.y + 40, { zoom, duration: 200 });
      }
    },
    [getViewport, setCenter],
  );

  const onSearchKey = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key !== "Enter" || !query.trim()) return;
    event.preventDefault();
    const layer = bestMatch(layers, query);
    if (!layer) return;
    add(layer.id);
    setQuery("");
  };

  return (
    <aside className="palette" aria-label="Layer palette">
      <input
        type="search"
        className="field__control palette__search"
        placeholder="Search layers"
        aria-label="Search layers"
        value={query}
        onChange={(event) => setQuery(event.target.value)}
        onKeyDown={onSearchKey}
      />
      <p className="palette__hint muted">Drag onto the canvas, or double-click (or type a name and press Enter) to add after the selected layer.</p>
      {matches.length === 0 && <p className="empty-state">No layer matches “{query}”.</p>}
      {categories.map((category) => {
        const items = matches.filter((l) => l.category === category);
        if (items.length === 0) return null;
        return (
          <section key={category} className="palette__group" aria-label={category}>
            <h3 className="palette__category">{category}</h3>
            <ul className="palette__list">
              {items.map((layer) => (
                <PaletteItem key={layer.id} layer={layer} onAdd={add} />
              ))}
            </ul>
          </section>
        );
      })}
    </aside>
  );
}

const PaletteItem = memo(function PaletteItem({ layer, onAdd }: { layer: LayerSpec; onAdd: (type: string) => void }) {
  const add = () => onAdd(layer.id);
  const onDragStart = (event: DragEvent) => {
    event.dataTransfer.setData(LAYER_DRAG_TYPE, layer.id);
    event.dataTransfer.setData("text/plain", layer.id);
    event.dataTransfer.effectAllowed = "copy";
  };
  // A click from the keyboard (Enter or Space: detail 0) adds the layer; a mouse needs a double-click.
  const onClick = (event: MouseEvent) => {
    if (event.detail === 0) add();
  };
  return (
    <li>
      <button
        type="button"
        className="palette__item"
        draggable
        onDragStart={onDragStart}
        onDoubleClick={add}
        onClick={onClick}
        title={layer.doc}
        data-testid={`palette-${layer.id}`}
      >
        <span className="palette__name">{layer.id}</span>
        <span className="palette__doc">{layer.doc}</span>
      </button>
    </li>
  );
});
