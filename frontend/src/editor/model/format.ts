/** Short human formats for shapes, counts and sizes shown on the canvas. */

/** [8, 3, 32, 32] → "8×3×32×32". */
export function formatShape(shape: readonly number[] | null | undefined): string {
  if (!shape) return "?";
  return shape.length === 0 ? "scalar" : shape.join("×");
}

/** 1234567 → "1.23M". */
export function formatCount(n: number): string {
  const units: [number, string][] = [
    [1e12, "T"],
    [1e9, "G"],
    [1e6, "M"],
    [1e3, "k"],
  ];
  for (const [size, unit] of units) {
    if (Math.abs(n) >= size) return `${trim(n / size)}${unit}`;
  }
  return String(n);
}

/** Bytes in binary units: 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : trim(value)} ${units[unit]}`;
}

function trim(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}
