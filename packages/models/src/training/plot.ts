// Line plots as PNG (loss curves; the evaluation's FID against CLIP similarity): one or more series
// on a linear or log-scale y axis, with axis titles, tick labels and a legend naming each line, drawn
// with a tiny built-in 3×5 font (no font files, so it renders the same everywhere).
import { existsSync, join, readFileSync, writeFileSync } from '#host';
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
  '8': '111101111101111', '9': '111101111001111', '.': '000000000000010', 'e': '111100111100111',
  '-': '000000111000000', '+': '000010111010000', ' ': '000000000000000', '(': '010100100100010',
  ')': '010001001001010', ':': '000010000010000', '/': '001001010100100', '_': '000000000000111',
  a: '010101111101101', b: '110101110101110', c: '011100100100011', d: '110101101101110',
  f: '111100110100100', g: '011100101101011', h: '101101111101101', i: '111010010010111',
  j: '001001001101010', k: '101101110101101', l: '100100100100111', m: '101111111101101',
  n: '110101101101101', o: '010101101101010', p: '110101110100100', q: '010101101110011',
  r: '110101110101101', s: '011100010001110', t: '111010010010010', u: '101101101101111',
  v: '101101101101010', w: '101101111111101', x: '101101010101101', y: '101101010010010',
  z: '111001010100111',
};

export interface PlotOptions {
  xTitle: string;
  yTitle: string;
  /** A log-scale y axis (decade grid lines); otherwise linear with the ends labelled. */
  logY: boolean;
  width?: number;
  height?: number;
}

/** A loss curve: loss on a log scale against the training step. */
export function renderLossCurve(series: Series[], width = 640, height = 400): Uint8Array {
  return renderPlot(series, { xTitle: 'training step', yTitle: 'loss (log scale)', logY: true, width, height });
}

/** Compact tick text: integers as they are, other values to three significant digits. */
const tick = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(3));

/** The plot as a PNG file's bytes. */
export function renderPlot(series: Series[], o: PlotOptions): Uint8Array {
  return encodeRgbPng(drawPlot(series, o));
}

/** The plot's pixels (RGB, row-major): what renderPlot encodes, and what a page draws on a canvas. */
export function drawPlot(series: Series[], o: PlotOptions): { width: number; height: number; data: Uint8Array } {
  const { width = 640, height = 400 } = o;
  const img = new Uint8Array(width * height * 3).fill(255);
  const set = (x: number, y: number, [r, g, b]: [number, number, number]) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const i = (Math.round(y) * width + Math.round(x)) * 3;
    img[i] = r;
    img[i + 1] = g;
    img[i + 2] = b;
  };
  const text = (s: string, x: number, y: number, scale = 2) => {
    [...s.toLowerCase()].forEach((ch, k) => {
      const glyph = GLYPHS[ch];
      if (!glyph) return;
      for (let gy = 0; gy < 5; gy++) for (let gx = 0; gx < 3; gx++) {
        if (glyph[gy * 3 + gx] !== '1') continue;
        for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) set(x + (k * 4 + gx) * scale + dx, y + gy * scale + dy, [40, 40, 40]);
      }
    });
  };
  const shown = (p: { x: number; y: number }) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!o.logY || p.y > 0);
  const all = series.flatMap((s) => s.points).filter(shown);
  if (all.length === 0) return { width, height, data: img };
  const left = 70, right = width - 20, top = 20, bottom = height - 50;
  const xMin = Math.min(...all.map((p) => p.x));
  const xSpan = Math.max(...all.map((p) => p.x)) - xMin;
  const xMax = xMin + (xSpan > 0 ? xSpan : Math.max(1e-6, Math.abs(xMin) * 0.01));
  const fy = o.logY ? Math.log10 : (y: number) => y;
  const yMin = fy(Math.min(...all.map((p) => p.y)));
  const ySpan = fy(Math.max(...all.map((p) => p.y))) - yMin;
  const yMax = yMin + (ySpan > 0 ? ySpan : Math.max(1e-3, Math.abs(yMin) * 0.01));
  const px = (x: number) => left + ((x - xMin) / (xMax - xMin)) * (right - left);
  const py = (y: number) => bottom - ((fy(y) - yMin) / (yMax - yMin)) * (bottom - top);
  if (o.logY) {
    // Decade grid lines and labels.
    for (let d = Math.ceil(yMin); d <= Math.floor(yMax); d++) {
      const y = py(10 ** d);
      for (let x = left; x <= right; x += 2) set(x, y, [210, 210, 210]);
      text(`1e${d}`, 8, y - 5);
    }
    text((10 ** yMax).toExponential(1).replace('+', ''), 8, top - 5); // the top of the axis, as a value
  } else {
    text(tick(yMin), 8, bottom - 5);
    text(tick(yMax), 8, top - 5);
  }
  for (let x = left; x <= right; x++) set(x, bottom, [0, 0, 0]);
  for (let y = top; y <= bottom; y++) set(left, y, [0, 0, 0]);
  text(tick(xMin), left, bottom + 10);
  text(tick(xMax), right - 40, bottom + 10);
  text(o.xTitle, (left + right) / 2 - 4 * o.xTitle.length, bottom + 28);
  // The y title runs along the top of the axis (the font has no vertical text).
  text(o.yTitle, left + 6, top - 14);
  // Legend: a short line in each series' colour and its label, top right.
  series.forEach((s, k) => {
    const y = top + 8 + 16 * k;
    const x0 = right - 8 * Math.max(...series.map((t) => t.label.length)) - 40;
    for (let x = x0; x < x0 + 24; x++) (set(x, y, s.color), set(x, y + 1, s.color));
    text(s.label, x0 + 30, y - 4);
  });
  for (const s of series) {
    const pts = s.points.filter(shown);
    // A dot at every point of a short series (a sweep), then the line through them.
    if (pts.length <= 20) for (const p of pts) for (let dx = -2; dx <= 2; dx++) for (let dy = -2; dy <= 2; dy++) set(px(p.x) + dx, py(p.y) + dy, s.color);
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
  return { width, height, data: img };
}

/** loss.png of a run directory, drawn from its metrics.jsonl (one series). */
export function writeLossPlot(dir: string, label: string): void {
  const text = existsSync(join(dir, 'metrics.jsonl')) ? readFileSync(join(dir, 'metrics.jsonl'), 'utf8') : '';
  const points = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { step: number; loss: number }).map((m) => ({ x: m.step, y: m.loss }));
  writeFileSync(join(dir, 'loss.png'), renderLossCurve([{ label, color: [200, 40, 40], points }]));
}
