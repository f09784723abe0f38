// Shape outlines and an anti-aliased polygon rasteriser for the procedural dataset.
//
// Every shape is a set of closed polygon contours filled with the even-odd rule (a ring is two
// circles), in unit coordinates with y pointing down and the shape's bounding box about [-1, 1]².
// Coverage is exact horizontally (span lengths) and supersampled vertically (SUBROWS sub-scanlines
// per pixel row), which keeps 32×32 edges smooth without a per-pixel inside test.

import type { Rgb, ShapeName } from './vocabulary.ts';

type Contour = Float64Array; // x0, y0, x1, y1, ... (closed implicitly)

function regularPolygon(sides: number, radius: number, startAngle = -Math.PI / 2): Contour {
  const out = new Float64Array(sides * 2);
  for (let i = 0; i < sides; i++) {
    const a = startAngle + (2 * Math.PI * i) / sides;
    out[2 * i] = radius * Math.cos(a);
    out[2 * i + 1] = radius * Math.sin(a);
  }
  return out;
}

/** Moves the contours so their joint bounding box is centred on the origin. */
function centreContours(contours: Contour[]): Contour[] {
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (const c of contours) {
    for (let i = 0; i < c.length; i += 2) {
      minX = Math.min(minX, c[i]); maxX = Math.max(maxX, c[i]);
      minY = Math.min(minY, c[i + 1]); maxY = Math.max(maxY, c[i + 1]);
    }
  }
  const dx = (minX + maxX) / 2, dy = (minY + maxY) / 2;
  return contours.map((c) => c.map((v, i) => (i % 2 === 0 ? v - dx : v - dy)));
}

function star(points: number, outer: number, inner: number): Contour {
  const out = new Float64Array(points * 4);
  for (let i = 0; i < points * 2; i++) {
    const a = -Math.PI / 2 + (Math.PI * i) / points;
    const r = i % 2 === 0 ? outer : inner;
    out[2 * i] = r * Math.cos(a);
    out[2 * i + 1] = r * Math.sin(a);
  }
  return out;
}

/** The classic parametric heart, scaled so its taller side spans [-0.95, 0.95]. */
function heart(samples: number): Contour {
  const out = new Float64Array(samples * 2);
  for (let i = 0; i < samples; i++) {
    const t = (2 * Math.PI * i) / samples;
    out[2 * i] = 16 * Math.sin(t) ** 3;
    out[2 * i + 1] = -(13 * Math.cos(t) - 5 * Math.cos(2 * t) - 2 * Math.cos(3 * t) - Math.cos(4 * t));
  }
  const [c] = centreContours([out]);
  let extent = 0;
  for (let i = 0; i < c.length; i++) extent = Math.max(extent, Math.abs(c[i]));
  return c.map((v) => (v * 0.95) / extent);
}

function polygon(...xy: number[]): Contour {
  return Float64Array.from(xy);
}

/** Unit outlines, chosen so shapes look about equally big at the same radius. */
export const SHAPE_OUTLINES: Record<ShapeName, readonly Contour[]> = {
  circle: [regularPolygon(64, 1)],
  square: [polygon(-0.85, -0.85, 0.85, -0.85, 0.85, 0.85, -0.85, 0.85)],
  // Equilateral, circumradius 1.15: 1.72 tall, 1.99 wide.
  triangle: centreContours([regularPolygon(3, 1.15)]),
  // Fat inner radius so the five points survive at 32×32.
  star: centreContours([star(5, 1.05, 0.47)]),
  // Wide hole so it still reads as a ring when small.
  ring: [regularPolygon(64, 1), regularPolygon(64, 0.52)],
  cross: [polygon(
    -0.3, -0.95, 0.3, -0.95, 0.3, -0.3, 0.95, -0.3, 0.95, 0.3, 0.3, 0.3,
    0.3, 0.95, -0.3, 0.95, -0.3, 0.3, -0.95, 0.3, -0.95, -0.3, -0.3, -0.3,
  )],
  // Taller than wide so a slightly rotated square is never mistaken for it.
  diamond: [polygon(0, -1, 0.72, 0, 0, 1, -0.72, 0)],
  heart: [heart(96)],
};

/** Vertical supersampling per pixel row. */
const SUBROWS = 8;

// Scratch buffers reused across calls (the generator is single-threaded and not re-entrant here).
let edgeBuf = new Float64Array(1024);
let rowCoverage = new Float64Array(256);
const crossings = new Float64Array(64);

export interface DrawShapeOptions {
  /** Centre, in pixels (x to the right, y down). */
  cx: number;
  cy: number;
  /** Scale in pixels: the unit outline is multiplied by this. */
  radius: number;
  /** Radians, clockwise on screen. */
  rotation: number;
  colour: Rgb;
}

/**
 * Alpha-blends one filled shape into an RGB image (row-major, 3 bytes per pixel) in place.
 * Pixels partly covered get a proportional mix of the shape colour and what was there before.
 */
export function drawShape(image: Uint8Array, width: number, height: number, shape: ShapeName, o: DrawShapeOptions): void {
  const contours = SHAPE_OUTLINES[shape];
  const cos = Math.cos(o.rotation), sin = Math.sin(o.rotation);

  // Edges as (x at top, y top, y bottom, dx/dy); horizontal edges never cross a scanline.
  let vertexCount = 0;
  for (const c of contours) vertexCount += c.length / 2;
  if (edgeBuf.length < vertexCount * 4) edgeBuf = new Float64Array(vertexCount * 4);
  let edges = 0;
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (const c of contours) {
    const n = c.length / 2;
    for (let i = 0; i < n; i++) {
      const j = (i + 1) % n;
      const ax = o.cx + o.radius * (c[2 * i] * cos - c[2 * i + 1] * sin);
      const ay = o.cy + o.radius * (c[2 * i] * sin + c[2 * i + 1] * cos);
      const bx = o.cx + o.radius * (c[2 * j] * cos - c[2 * j + 1] * sin);
      const by = o.cy + o.radius * (c[2 * j] * sin + c[2 * j + 1] * cos);
      minX = Math.min(minX, ax); maxX = Math.max(maxX, ax);
      minY = Math.min(minY, ay); maxY = Math.max(maxY, ay);
      if (ay === by) continue;
      const top = ay < by;
      const e = edges * 4;
      edgeBuf[e] = top ? ax : bx;
      edgeBuf[e + 1] = top ? ay : by;
      edgeBuf[e + 2] = top ? by : ay;
      edgeBuf[e + 3] = (bx - ax) / (by - ay);
      edges++;
    }
  }

  const rowStart = Math.max(0, Math.floor(minY));
  const rowEnd = Math.min(height, Math.ceil(maxY));
  const colStart = Math.max(0, Math.floor(minX));
  const colEnd = Math.min(width, Math.ceil(maxX));
  if (rowStart >= rowEnd || colStart >= colEnd) return;
  if (rowCoverage.length < width) rowCoverage = new Float64Array(width);
  const weight = 1 / SUBROWS;
  const [r, g, b] = o.colour;

  for (let py = rowStart; py < rowEnd; py++) {
    rowCoverage.fill(0, colStart, colEnd);
    for (let s = 0; s < SUBROWS; s++) {
      const y = py + (s + 0.5) * weight;
      // Collect and insertion-sort this sub-scanline's edge crossings (a handful per shape).
      let count = 0;
      for (let e = 0; e < edges * 4; e += 4) {
        if (y < edgeBuf[e + 1] || y >= edgeBuf[e + 2]) continue;
        const x = edgeBuf[e] + (y - edgeBuf[e + 1]) * edgeBuf[e + 3];
        let k = count++;
        while (k > 0 && crossings[k - 1] > x) { crossings[k] = crossings[k - 1]; k--; }
        crossings[k] = x;
      }
      // Even-odd: consecutive crossing pairs bound the inside spans.
      for (let k = 0; k + 1 < count; k += 2) addSpan(crossings[k], crossings[k + 1], colStart, colEnd, weight);
    }
    let p = (py * width + colStart) * 3;
    for (let px = colStart; px < colEnd; px++, p += 3) {
      const c = Math.min(1, rowCoverage[px]);
      if (c <= 0) continue;
      image[p] = Math.round(image[p] + (r - image[p]) * c);
      image[p + 1] = Math.round(image[p + 1] + (g - image[p + 1]) * c);
      image[p + 2] = Math.round(image[p + 2] + (b - image[p + 2]) * c);
    }
  }
}

/** Adds weight × (length of [a, b] inside each pixel column) to the row's coverage. */
function addSpan(a: number, b: number, colStart: number, colEnd: number, weight: number): void {
  if (a < colStart) a = colStart;
  if (b > colEnd) b = colEnd;
  if (b <= a) return;
  const ia = Math.floor(a), ib = Math.floor(b);
  if (ia === ib) {
    rowCoverage[ia] += (b - a) * weight;
    return;
  }
  rowCoverage[ia] += (ia + 1 - a) * weight;
  for (let k = ia + 1; k < ib; k++) rowCoverage[k] += weight;
  if (ib < colEnd) rowCoverage[ib] += (b - ib) * weight;
}

/** Fills an RGB image with one colour. */
export function fillImage(image: Uint8Array, colour: Rgb): void {
  for (let p = 0; p < image.length; p += 3) {
    image[p] = colour[0];
    image[p + 1] = colour[1];
    image[p + 2] = colour[2];
  }
}
