// A minimal line chart rendered to RGB pixels (for CLI reports, where there is no browser and no font): series
// as coloured polylines over a light grid, y from the data's range (optionally log). The report's text carries
// the legend and the numbers; the picture shows the shapes of the curves.
import { encodePng } from './png';

export interface PlotSeries {
  color: readonly [number, number, number];
  points: ReadonlyArray<readonly [number, number]>;
}

export function linePlotPng(series: readonly PlotSeries[], opts: { width?: number; height?: number; logY?: boolean } = {}): Uint8Array {
  const W = opts.width ?? 480;
  const H = opts.height ?? 240;
  const pad = 12;
  const rgb = new Uint8Array(W * H * 3).fill(255);
  const ty = (y: number) => (opts.logY ? Math.log10(Math.max(y, 1e-12)) : y);
  const pts = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(ty(y)));
  if (pts.length === 0) return encodePng(rgb, W, H);
  const [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  const [y0, y1] = [Math.min(...pts.map((p) => ty(p[1]))), Math.max(...pts.map((p) => ty(p[1])))];
  const px = (x: number) => pad + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * pad);
  const py = (y: number) => H - pad - ((ty(y) - y0) / (y1 - y0 || 1)) * (H - 2 * pad);
  const set = (x: number, y: number, c: readonly number[]) => {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= W || yi >= H) return;
    rgb.set(c, (yi * W + xi) * 3);
  };
  for (let k = 0; k <= 4; k++) {
    const gy = pad + (k * (H - 2 * pad)) / 4;
    for (let x = pad; x < W - pad; x++) set(x, gy, [225, 225, 225]);
  }
  for (const s of series) {
    for (let i = 1; i < s.points.length; i++) {
      const [ax, ay] = [px(s.points[i - 1][0]), py(s.points[i - 1][1])];
      const [bx, by] = [px(s.points[i][0]), py(s.points[i][1])];
      const n = Math.max(1, Math.ceil(Math.hypot(bx - ax, by - ay)));
      for (let t = 0; t <= n; t++) for (const d of [0, 1]) set(ax + ((bx - ax) * t) / n, ay + ((by - ay) * t) / n + d, s.color);
    }
  }
  return encodePng(rgb, W, H);
}
