/**
 * Fit view that never makes text unreadable: a graph that fits at a readable zoom is shown
 * whole; a taller one is shown from its inputs (the top) at the readable zoom, and the person
 * pans (the minimap shows the whole).
 */

/** The smallest text on a node is 12.8 px (editor.css); at this zoom it is 11 px on screen. */
export const READABLE_ZOOM = 0.86;
export const MAX_FIT_ZOOM = 1.2;

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Viewport {
  x: number;
  y: number;
  zoom: number;
}

/** The viewport showing `bounds` (flow coordinates) in a `width`×`height` pane. */
export function readableViewport(bounds: Rect, width: number, height: number, padding = 32): Viewport {
  const fit = Math.min(
    MAX_FIT_ZOOM,
    (width - 2 * padding) / Math.max(bounds.width, 1),
    (height - 2 * padding) / Math.max(bounds.height, 1),
  );
  const zoom = Math.max(fit, READABLE_ZOOM);
  const centerX = bounds.x + bounds.width / 2;
  const x = width / 2 - centerX * zoom;
  if (bounds.height * zoom <= height - 2 * padding) {
    const centerY = bounds.y + bounds.height / 2;
    return { x, y: height / 2 - centerY * zoom, zoom };
  }
  return { x, y: padding - bounds.y * zoom, zoom };
}
