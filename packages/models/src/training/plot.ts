// A loss-curve PNG: one or more series (first red, then blue) on a log-scale y axis, with a tiny built-in digit font for
// the axis labels (no font files, so it renders the same everywhere).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeRgbPng } from '../data/image-codec.ts';

export interface Series {
  label: string;
  color: [number, number, number];
  points: { x: number; y: number }[];
}

// 3×5 glyphs for the characters axis labels need.
const GLYPHS: Record<string, string> = {
  '0': '111101101101111', '1': '010110010010111', '2': '111001111100111', '3': '111001111001111',
  '4': '101101111001001', '5': '111100111001111', '6': '111100111101111', '7': '111001001001001',
  '8': '111101111101111', '9': '111101111001111', '.': '000000000000010', 'e': '000111101110011',
  '-': '000000111000000', '+': '000010111010000',
};

export function renderLossCurve(series: Series[], width = 640, height = 400): Uint8Array {
  const img = new Uint8Array(width * height * 3).fill(255);
  const set = (x: number, y: number, [r, g, b]: [number, number, number]) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const i = (Math.round(y) * width + Math.round(x)) * 3;
    img[i] = r;
    img[i + 1] = g;
    img[i + 2] = b;
  };
  const text = (s: string, x: number, y: number, scale = 2) => {
    [...s].forEach((ch, k) => {
      const glyph = GLYPHS[ch];
      if (!glyph) return;
      for (let gy = 0; gy < 5; gy++) for (let gx = 0; gx < 3; gx++) {
        if (glyph[gy * 3 + gx] !== '1') continue;
        for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) set(x + (k * 4 + gx) * scale + dx, y + gy * scale + dy, [40, 40, 40]);
      }
    });
  };
  const all = series.flatMap((s) => s.points).filter((p) => p.y > 0 && Number.isFinite(p.y));
  if (all.length === 0) return encodeRgbPng({ width, height, data: img });
  const left = 70, right = width - 20, top = 20, bottom = height - 40;
  const xMin = Math.min(...all.map((p) => p.x));
  const xMax = Math.max(...all.map((p) => p.x), xMin + 1);
  const lyMin = Math.log10(Math.min(...all.map((p) => p.y)));
  const lyMax = Math.max(Math.log10(Math.max(...all.map((p) => p.y))), lyMin + 1e-3);
  const px = (x: number) => left + ((x - xMin) / (xMax - xMin)) * (right - left);
  const py = (y: number) => bottom - ((Math.log10(y) - lyMin) / (lyMax - lyMin)) * (bottom - top);
  // Decade grid lines and labels.
  for (let d = Math.ceil(lyMin); d <= Math.floor(lyMax); d++) {
    const y = py(10 ** d);
    for (let x = left; x <= right; x += 2) set(x, y, [210, 210, 210]);
    text(`1e${d}`, 8, y - 5);
  }
  text((10 ** lyMax).toExponential(1).replace('+', ''), 8, top - 5); // the top of the axis, as a value
  for (let x = left; x <= right; x++) set(x, bottom, [0, 0, 0]);
  for (let y = top; y <= bottom; y++) set(left, y, [0, 0, 0]);
  text(String(Math.round(xMin)), left, bottom + 10);
  text(String(Math.round(xMax)), right - 40, bottom + 10);
  for (const s of series) {
    const pts = s.points.filter((p) => p.y > 0 && Number.isFinite(p.y));
    for (let k = 1; k < pts.length; k++) {
      const [x0, y0, x1, y1] = [px(pts[k - 1].x), py(pts[k - 1].y), px(pts[k].x), py(pts[k].y)];
      const n = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
      for (let i = 0; i <= n; i++) {
        const x = x0 + ((x1 - x0) * i) / n;
        const y = y0 + ((y1 - y0) * i) / n;
        set(x, y, s.color);
        set(x, y + 1, s.color);
      }
    }
  }
  return encodeRgbPng({ width, height, data: img });
}

/** loss.png of a run directory, drawn from its metrics.jsonl (one series). */
export function writeLossPlot(dir: string, label: string): void {
  const text = existsSync(join(dir, 'metrics.jsonl')) ? readFileSync(join(dir, 'metrics.jsonl'), 'utf8') : '';
  const points = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { step: number; loss: number }).map((m) => ({ x: m.step, y: m.loss }));
  writeFileSync(join(dir, 'loss.png'), renderLossCurve([{ label, color: [200, 40, 40], points }]));
}
