// CLIP's image preprocessing, as OpenAI's clip._transform does it on PIL images:
//   Resize(n, BICUBIC) → CenterCrop(n) → RGB → ToTensor → Normalize(CLIP_MEAN, CLIP_STD).
// The resize re-implements Pillow's (libImaging/Resample.c): separable bicubic (a = −0.5) whose
// support widens by the scale factor when downscaling (antialiasing), coefficients normalised and
// rounded to 22-bit fixed point, horizontal pass first, each pass rounded and clamped to 8 bits. For
// 8-bit RGB or grey input the pixels match Pillow 9.4 exactly (see test/models/clip-preprocess.test.ts).
// Known differences from running torchvision on a PIL image:
//  - RGBA/LA images: Pillow resizes them premultiplied by alpha; decodeRgb drops alpha first, so
//    transparent pixels differ (opaque images are identical).
//  - Palette PNGs: Pillow resizes mode "P" with NEAREST (it ignores BICUBIC there); here they are
//    expanded to RGB first and resized bicubically.
//  - 16-bit PNGs: Pillow opens them as 32-bit integer images ("I"); here they are scaled to 8 bits first.
//  - JPEG: decoded by jpeg-js, not libjpeg (different IDCT and chroma upsampling: pixels can differ
//    by a few levels before resizing).
import { tensor, type Tensor } from '@sd/autograd';
import { readFileSync } from '#host';
import { decodeRgb, type RgbImage } from '../data/image-codec.ts';

export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/** Images smaller than this on a side are upscaled a lot; worth a warning. */
export const TINY_IMAGE_SIDE = 8;

const PRECISION_BITS = 22; // Pillow: 32 − 8 − 2
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);

function bicubic(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Coefficients {
  /** First input index of each output index. */
  start: Int32Array;
  /** Number of taps of each output index. */
  count: Int32Array;
  /** Fixed-point taps, `taps` per output index. */
  weights: Int32Array;
  taps: number;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for outputs [first, first + n) of an in→out resize. */
function coefficients(inSize: number, outSize: number, first: number, n: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(n);
  const count = new Int32Array(n);
  const weights = new Int32Array(n * taps);
  const k = new Float64Array(taps);
  const ss = 1 / filterScale; // Pillow multiplies by the reciprocal (not the same rounding as dividing)
  for (let o = 0; o < n; o++) {
    const center = (first + o + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      k[x] = bicubic((x + xmin - center + 0.5) * ss);
      total += k[x];
    }
    for (let x = 0; x < xmax; x++) {
      const w = total !== 0 ? k[x] / total : k[x];
      // C's (int) truncates toward zero after the ±0.5, i.e. rounds half away from zero.
      weights[o * taps + x] = Math.trunc(w < 0 ? -0.5 + w * ONE : 0.5 + w * ONE);
    }
    start[o] = xmin;
    count[o] = xmax;
  }
  return { start, count, weights, taps };
}

/** Pillow's clip8: the accumulator shifted down to 8 bits (arithmetic shift = floor), clamped. */
function clip8(acc: number): number {
  const v = Math.floor(acc / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Pillow's two-pass resize of an 8-bit image (any channel count) to outW×outH, evaluating only the
 * window [left, left + cropW) × [top, top + cropH) of the result (each output pixel depends only on
 * its own coefficients, so this is exactly a crop of the full resize).
 */
export function pilResizeBicubic(
  src: { width: number; height: number; channels: number; data: Uint8Array },
  outW: number,
  outH: number,
  crop: { left: number; top: number; width: number; height: number } = { left: 0, top: 0, width: outW, height: outH },
): Uint8Array {
  const { width: inW, height: inH, channels: ch, data } = src;
  const needH = outW !== inW;
  const needV = outH !== inH;
  // Horizontal pass over the rows the vertical pass reads (or the cropped rows if there is none).
  const vert = needV ? coefficients(inH, outH, crop.top, crop.height) : null;
  const rowFirst = vert ? vert.start[0] : crop.top;
  const rowLast = vert ? vert.start[crop.height - 1] + vert.count[crop.height - 1] : crop.top + crop.height;
  const rows = rowLast - rowFirst;
  let mid: Uint8Array;
  if (needH) {
    const hor = coefficients(inW, outW, crop.left, crop.width);
    mid = new Uint8Array(rows * crop.width * ch);
    for (let y = 0; y < rows; y++) {
      const inRow = (rowFirst + y) * inW * ch;
      for (let o = 0; o < crop.width; o++) {
        const base = o * hor.taps;
        const x0 = hor.start[o];
        for (let c = 0; c < ch; c++) {
          let acc = HALF;
          for (let t = 0; t < hor.count[o]; t++) acc += data[inRow + (x0 + t) * ch + c] * hor.weights[base + t];
          mid[(y * crop.width + o) * ch + c] = clip8(acc);
        }
      }
    }
  } else {
    mid = new Uint8Array(rows * crop.width * ch);
    for (let y = 0; y < rows; y++) {
      const from = ((rowFirst + y) * inW + crop.left) * ch;
      mid.set(data.subarray(from, from + crop.width * ch), y * crop.width * ch);
    }
  }
  if (!vert) return mid;
  const out = new Uint8Array(crop.height * crop.width * ch);
  const rowLen = crop.width * ch;
  for (let o = 0; o < crop.height; o++) {
    const base = o * vert.taps;
    const y0 = vert.start[o] - rowFirst;
    for (let i = 0; i < rowLen; i++) {
      let acc = HALF;
      for (let t = 0; t < vert.count[o]; t++) acc += mid[(y0 + t) * rowLen + i] * vert.weights[base + t];
      out[o * rowLen + i] = clip8(acc);
    }
  }
  return out;
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision Resize(int): the short side becomes `size`, the long side int(size · long / short). */
export function resizedSize(width: number, height: number, size: number): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.trunc((size * height) / width) };
  return { width: Math.trunc((size * width) / height), height: size };
}

export interface PreprocessOptions {
  /** Called with a message for images smaller than 8 px on a side (default console.warn). */
  warn?: (message: string) => void;
  /** Name for messages (a file name). */
  name?: string;
}

/**
 * The resized and centre-cropped 8-bit RGB pixels (HWC, size×size×3): CLIP's transform up to ToTensor.
 */
export function clipResizeCrop(image: RgbImage, size: number, options: PreprocessOptions = {}): Uint8Array {
  const { width, height, data } = image;
  const name = options.name ?? 'image';
  if (!Number.isInteger(size) || size < 1) throw new Error(`clipPreprocess: size must be a positive integer, got ${size}`);
  if (!(width >= 1 && height >= 1)) throw new Error(`clipPreprocess: ${name} is empty (${width}×${height})`);
  if (data.length !== width * height * 3) throw new Error(`clipPreprocess: ${name} is ${width}×${height} RGB but has ${data.length} bytes, not ${width * height * 3}`);
  if (width < TINY_IMAGE_SIDE || height < TINY_IMAGE_SIDE) {
    (options.warn ?? console.warn)(`clipPreprocess: ${name} is only ${width}×${height} px; upscaling it to ${size} px will be very blurry`);
  }
  // A short side already at `size` is left alone (Pillow returns a copy for a same-size resize).
  const resized = Math.min(width, height) === size ? { width, height } : resizedSize(width, height, size);
  const top = roundHalfEven((resized.height - size) / 2);
  const left = roundHalfEven((resized.width - size) / 2);
  return pilResizeBicubic({ width, height, channels: 3, data }, resized.width, resized.height, { left, top, width: size, height: size });
}

/** 8-bit RGB HWC → CLIP-normalised CHW float32, with torchvision's float32 rounding at each step. */
export function normalizeClipPixels(pixels: Uint8Array, size: number): Float32Array {
  const out = new Float32Array(3 * size * size);
  const plane = size * size;
  for (let c = 0; c < 3; c++) {
    const mean = Math.fround(CLIP_MEAN[c]);
    const std = Math.fround(CLIP_STD[c]);
    for (let p = 0; p < plane; p++) out[c * plane + p] = Math.fround(Math.fround(Math.fround(pixels[p * 3 + c] / 255) - mean) / std);
  }
  return out;
}

/** CLIP's full transform of one decoded image → [3, size, size] values (CHW, float32). */
export function clipPreprocess(image: RgbImage, size = 224, options: PreprocessOptions = {}): Float32Array {
  return normalizeClipPixels(clipResizeCrop(image, size, options), size);
}

/** Reads and decodes a PNG or JPEG file, then applies CLIP's transform. */
export function preprocessImageFile(path: string, size = 224, options: PreprocessOptions = {}): Float32Array {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read image (${(e as Error).message})`);
  }
  return clipPreprocess(decodeRgb(bytes, path), size, { ...options, name: options.name ?? path });
}

/** A batch [B, 3, size, size] on the device from decoded images, file paths or encoded bytes. */
export function preprocessImages(images: readonly (RgbImage | string | Uint8Array)[], size = 224, options: PreprocessOptions = {}): Tensor {
  if (images.length === 0) throw new Error('preprocessImages: no images given');
  const plane = 3 * size * size;
  const data = new Float32Array(images.length * plane);
  images.forEach((image, i) => {
    const values =
      typeof image === 'string'
        ? preprocessImageFile(image, size, options)
        : image instanceof Uint8Array
          ? clipPreprocess(decodeRgb(image, `image ${i}`), size, { ...options, name: `image ${i}` })
          : clipPreprocess(image, size, { ...options, name: options.name ?? `image ${i}` });
    data.set(values, i * plane);
  });
  return tensor(data, [images.length, 3, size, size]);
}
