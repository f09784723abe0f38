// The VAE's data: square RGB images held as bytes on the host (a 64×64 image is 12 KB; as floats on
// the device it would be four times that), turned into [-1, 1] float batches one step at a time.
import { createHash, existsSync, readdirSync } from '#host';
import { generateSample, type Resolution, type Split } from '../data/dataset.ts';
import { readImageFolder } from '../data/imagefolder.ts';

export interface ImageSet {
  /** RGB bytes, count × side × side × 3, row-major (the procedural dataset's and PNG's layout). */
  pixels: Uint8Array;
  count: number;
  side: number;
  /** Where the images came from, for config.json and messages. */
  source: string;
}

export interface ProceduralImageOptions {
  /** The dataset seed (which images exist). */
  seed: number;
  split: Split;
  /** First sample index (default 0). */
  start?: number;
  /** Image side (default 64; 32 draws the same scenes coarser, for small tests). */
  resolution?: Resolution;
  /** Objects per image (default 'mixed', the dataset's own mix). */
  objectCount?: 1 | 2 | 'mixed';
}

/** Samples start..start+count-1 of the procedural dataset. */
export function proceduralImages(count: number, o: ProceduralImageOptions): ImageSet {
  const side = o.resolution ?? 64;
  const start = o.start ?? 0;
  const pixels = new Uint8Array(count * side * side * 3);
  const options = { seed: o.seed, split: o.split, resolution: side, objectCount: o.objectCount };
  for (let i = 0; i < count; i++) pixels.set(generateSample(start + i, options).image, i * side * side * 3);
  const objects = o.objectCount && o.objectCount !== 'mixed' ? `, ${o.objectCount} object${o.objectCount > 1 ? 's' : ''}` : '';
  return { pixels, count, side, source: `procedural ${side}×${side} (seed ${o.seed}, ${o.split} split${objects}, samples ${start}..${start + count - 1})` };
}

/**
 * Every image of an imagefolder (captions optional: they are never read). An image of another size
 * is refused, naming the file: resizing would silently train on something other than the data.
 */
export async function imageFolderImages(dir: string, side: number): Promise<ImageSet> {
  // Said plainly here: readImageFolder would only report the missing metadata.jsonl.
  if (!existsSync(dir)) throw new Error(`${dir}: no such image folder`);
  if (readdirSync(dir).length === 0) throw new Error(`${dir}: the image folder is empty (it needs the images and a metadata.jsonl with one {"file_name": ...} line per image)`);
  const entries = await readImageFolder(dir, { requireText: false });
  if (entries.length === 0) throw new Error(`${dir}: the imagefolder lists no images (metadata.jsonl is empty)`);
  const pixels = new Uint8Array(entries.length * side * side * 3);
  entries.forEach((e, i) => {
    const image = e.image!;
    if (image.width !== side || image.height !== side) {
      throw new Error(`${e.path}: the image is ${image.width}×${image.height}; the VAE trains on ${side}×${side} images (resize the folder's images first)`);
    }
    pixels.set(image.data, i * side * side * 3);
  });
  return { pixels, count: entries.length, side, source: dir };
}

/** Images start..end-1 of a set (no copy). */
export function subsetImages(set: ImageSet, start: number, end: number): ImageSet {
  const bytes = set.side * set.side * 3;
  return { ...set, pixels: set.pixels.subarray(start * bytes, end * bytes), count: end - start, source: `${set.source} [${start}, ${end})` };
}

/** sha256 over the size and the bytes: a resume on other images is refused. */
export function fingerprintImages(set: ImageSet): string {
  return createHash('sha256').update(`${set.count}×${set.side}×${set.side}×3\n`).update(set.pixels).digest('hex');
}

/** The images at `rows` as a [B, 3, side, side] batch in [-1, 1] (the VAE's input range). */
export function imageBatch(set: ImageSet, rows: ArrayLike<number>): Float32Array {
  const hw = set.side * set.side;
  const out = new Float32Array(rows.length * 3 * hw);
  for (let b = 0; b < rows.length; b++) {
    const src = rows[b] * hw * 3;
    const dst = b * 3 * hw;
    for (let p = 0; p < hw; p++) {
      for (let c = 0; c < 3; c++) out[dst + c * hw + p] = set.pixels[src + p * 3 + c] / 127.5 - 1;
    }
  }
  return out;
}

/**
 * The `crop`×`crop` windows of the images at `rows`, window b's top-left corner at (xs[b], ys[b]), as
 * a [B, 3, crop, crop] batch in [-1, 1]. The VAE is convolutional, so it trains on crops as SD's
 * autoencoder did (256² crops of larger images): a step costs about the crop's share of the pixels.
 */
export function imageCropBatch(set: ImageSet, rows: ArrayLike<number>, xs: ArrayLike<number>, ys: ArrayLike<number>, crop: number): Float32Array {
  if (!(Number.isInteger(crop) && crop >= 1 && crop <= set.side)) throw new Error(`imageCropBatch: crop ${crop} must be an integer in [1, ${set.side}] (the images' side)`);
  const hw = crop * crop;
  const out = new Float32Array(rows.length * 3 * hw);
  for (let b = 0; b < rows.length; b++) {
    const x0 = xs[b];
    const y0 = ys[b];
    if (x0 < 0 || y0 < 0 || x0 + crop > set.side || y0 + crop > set.side) throw new Error(`imageCropBatch: window ${b} at (${x0}, ${y0}) of side ${crop} leaves the ${set.side}×${set.side} image`);
    const src = rows[b] * set.side * set.side * 3;
    const dst = b * 3 * hw;
    for (let y = 0; y < crop; y++) {
      for (let x = 0; x < crop; x++) {
        const from = src + ((y0 + y) * set.side + x0 + x) * 3;
        const p = y * crop + x;
        for (let c = 0; c < 3; c++) out[dst + c * hw + p] = set.pixels[from + c] / 127.5 - 1;
      }
    }
  }
  return out;
}

/** A [B, 3, side, side] batch in [-1, 1] back to RGB bytes (clamped, rounded): imageBatch's inverse. */
export function imageBytes(batch: ArrayLike<number>, count: number, side: number): Uint8Array {
  const hw = side * side;
  const out = new Uint8Array(count * hw * 3);
  for (let b = 0; b < count; b++) {
    for (let p = 0; p < hw; p++) {
      for (let c = 0; c < 3; c++) out[(b * hw + p) * 3 + c] = Math.round((Math.min(1, Math.max(-1, batch[(b * 3 + c) * hw + p])) + 1) * 127.5);
    }
  }
  return out;
}

/** Image `i` of a set in the {data, width, height} form the CLIP preprocessing takes. */
export function imageAt(set: ImageSet, i: number): { data: Uint8Array; width: number; height: number } {
  const bytes = set.side * set.side * 3;
  return { data: set.pixels.subarray(i * bytes, (i + 1) * bytes), width: set.side, height: set.side };
}

/**
 * The first `columns` images of each set as one RGB picture, a row per set with a 2-pixel white
 * gap (originals above their reconstructions, so a person can compare them at a glance).
 */
export function imageGrid(rows: ImageSet[], columns: number): { width: number; height: number; data: Uint8Array } {
  const side = rows[0].side;
  const gap = 2;
  const width = columns * side + (columns - 1) * gap;
  const height = rows.length * side + (rows.length - 1) * gap;
  const data = new Uint8Array(width * height * 3).fill(255);
  rows.forEach((set, r) => {
    if (set.side !== side) throw new Error(`imageGrid: row ${r} has ${set.side}-pixel images, row 0 ${side}`);
    for (let c = 0; c < Math.min(columns, set.count); c++) {
      const image = imageAt(set, c).data;
      for (let y = 0; y < side; y++) {
        const to = ((r * (side + gap) + y) * width + c * (side + gap)) * 3;
        data.set(image.subarray(y * side * 3, (y + 1) * side * 3), to);
      }
    }
  });
  return { width, height, data };
}
