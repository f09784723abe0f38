// PNG encoding and PNG/JPEG decoding to 8-bit RGB, for imagefolder export and import.

import { decode as decodePng, encode as encodePng, convertIndexedToRgb } from 'fast-png';
import jpeg from 'jpeg-js';

export interface RgbImage {
  width: number;
  height: number;
  /** RGB bytes, row-major, height × width × 3. */
  data: Uint8Array;
}

export function encodeRgbPng(image: RgbImage): Uint8Array {
  if (image.data.length !== image.width * image.height * 3) {
    throw new Error(`encodeRgbPng: ${image.width}×${image.height} RGB needs ${image.width * image.height * 3} bytes, got ${image.data.length}`);
  }
  return encodePng({ width: image.width, height: image.height, data: image.data, channels: 3, depth: 8 });
}

function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
}

function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/**
 * Decodes a PNG (any bit depth, grey/RGB, with or without alpha, or palette) or a baseline/progressive
 * JPEG into 8-bit RGB. Alpha is dropped, as converting to RGB does in common image libraries.
 * Throws a message starting with `name` when the bytes are neither or are corrupt.
 */
export function decodeRgb(bytes: Uint8Array, name: string): RgbImage {
  if (isPng(bytes)) {
    let png;
    try {
      png = decodePng(bytes);
    } catch (e) {
      throw new Error(`${name}: corrupt PNG (${(e as Error).message})`);
    }
    const { width, height } = png;
    let data: ArrayLike<number> = png.data;
    let channels = png.channels;
    let depth: number = png.depth;
    if (png.palette) {
      data = convertIndexedToRgb(png);
      channels = data.length / (width * height);
      depth = 8;
    } else if (depth < 8) {
      data = unpackBits(png.data, width, height, depth);
    }
    return { width, height, data: toRgb8(data, width * height, channels, depth) };
  }
  if (isJpeg(bytes)) {
    try {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
      return { width: img.width, height: img.height, data: img.data };
    } catch (e) {
      throw new Error(`${name}: corrupt JPEG (${(e as Error).message})`);
    }
  }
  throw new Error(`${name}: not a PNG or JPEG file`);
}

/** Grey rows of 1, 2 or 4 bits per sample (each row starts on a byte) → one element per sample. */
function unpackBits(packed: ArrayLike<number>, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const bytesPerRow = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      const byte = packed[y * bytesPerRow + (bit >> 3)];
      out[y * width + x] = (byte >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

/** Interleaved grey / grey+alpha / RGB / RGBA samples of 1–16 bits → 8-bit RGB. */
function toRgb8(data: ArrayLike<number>, pixels: number, channels: number, depth: number): Uint8Array {
  if (channels < 1 || channels > 4) throw new Error(`decodeRgb: unsupported channel count ${channels}`);
  const scale = 255 / (2 ** depth - 1);
  const out = new Uint8Array(pixels * 3);
  const grey = channels <= 2;
  for (let p = 0; p < pixels; p++) {
    const s = p * channels;
    for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.round(data[grey ? s : s + c] * scale);
  }
  return out;
}
