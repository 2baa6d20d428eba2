/** Pure geometry for the small SVG charts: scales, ticks and path strings. */
import type { Point } from "./runEvents";

export interface Extent {
  min: number;
  max: number;
}

export function extent(values: readonly number[], pad = 0): Extent {
  if (values.length === 0) return { min: 0, max: 1 };
  let min = Math.min(...values);
  let max = Math.max(...values);
  if (min === max) {
    min -= 0.5;
    max += 0.5;
  }
  const margin = (max - min) * pad;
  return { min: min - margin, max: max + margin };
}

/** A linear map from the domain onto [from, to] (to < from flips, as for SVG's y). */
export function scale(domain: Extent, from: number, to: number): (value: number) => number {
  const span = domain.max - domain.min || 1;
  return (value) => from + ((value - domain.min) / span) * (to - from);
}

/** An SVG path through the points, in order; "" for none. */
export function linePath(points: readonly Point[], x: (v: number) => number, y: (v: number) => number): string {
  return points.map((p, i) => `${i === 0 ? "M" : "L"}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(" ");
}

/** About `count` round tick values covering the extent; whole numbers only when `integer`. */
export function ticks(domain: Extent, count = 4, integer = false): number[] {
  const span = domain.max - domain.min;
  if (!(span > 0)) return [domain.min];
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const nice = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const step = integer ? Math.max(1, Math.round(nice)) : nice;
  const out: number[] = [];
  for (let v = Math.ceil(domain.min / step) * step; v <= domain.max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Downsamples a long series to at most `max` points, always keeping the last one. */
export function thin(points: readonly Point[], max = 400): readonly Point[] {
  if (points.length <= max) return points;
  const every = Math.ceil(points.length / max);
  const out = points.filter((_, i) => i % every === 0);
  if (out[out.length - 1] !== points[points.length - 1]) out.push(points[points.length - 1]!);
  return out;
}
