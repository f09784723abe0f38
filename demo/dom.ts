// The few DOM calls of the demo page, typed here: the repository's TypeScript has no DOM library (it
// clashes with Node's types across the packages).

export interface Element {
  textContent: string | null;
  className: string;
  value: string;
  /** Of a <progress>. */
  max: number;
  disabled: boolean;
  onclick: (() => void) | null;
  replaceChildren(...nodes: unknown[]): void;
}
interface Canvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { putImageData(image: unknown, x: number, y: number): void } | null;
}
const { document, ImageData } = globalThis as unknown as {
  document: { getElementById(id: string): Element | null; createElement(tag: 'canvas'): Canvas };
  ImageData: new (data: Uint8ClampedArray, width: number, height: number) => unknown;
};

/** The element with this id; a missing one is a bug in the page, named. */
export function $(id: string): Element {
  const el = document.getElementById(id);
  if (!el) throw new Error(`demo page: no element #${id}`);
  return el;
}

/** A status line's text, in the error style or not. */
export function setStatus(id: string, text: string, error = false): void {
  const el = $(id);
  el.textContent = text;
  el.className = error ? 'error' : '';
}

/** A canvas showing an RGBA image (row-major, 8 bits per channel). */
export function drawRgba(rgba: Uint8Array, width: number, height: number): Canvas {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(rgba), width, height), 0, 0);
  return canvas;
}

/** A canvas showing an RGB image (row-major, as drawPlot gives it). */
export function drawRgb(rgb: Uint8Array, width: number, height: number): Canvas {
  const rgba = new Uint8Array(width * height * 4).fill(255);
  for (let p = 0; p < width * height; p++) rgba.set(rgb.subarray(p * 3, p * 3 + 3), p * 4);
  return drawRgba(rgba, width, height);
}
