// The judge's training and test scenes: procedural renders with their exact labels, from its own
// data seed (not the CLIP's or the prior's) and both the training and the held-out shape–colour
// pairs (the judge measures; it holds nothing out). Training images get light augmentation — pixel
// noise and an occasional box blur — so that decoded images, which are smoother and noisier than
// renders, are still read correctly.
import { sampleAttributes, renderScene, type Split } from '../data/dataset.ts';
import { mulberry32, hashSeed } from '../data/prng.ts';
import { HEAD_NAMES, judgeLabels, type JudgeHead } from './labels.ts';

/** The judge's own data seed. */
export const JUDGE_DATA_SEED = 7_070_707;
/** Test scenes start here (training draws indices below it). */
export const JUDGE_TEST_INDEX = 1_000_000_000;

export interface JudgeBatch {
  /** [N, 3, side, side] in [-1, 1]. */
  images: Float32Array;
  /** Per head, the class of each image (or UNLABELLED). */
  labels: Record<JudgeHead, Int32Array>;
  count: number;
}

/** Scene `index`: alternating training and held-out pairs, one or two objects as the dataset draws them. */
export function judgeScene(index: number) {
  const split: Split = index % 2 === 0 ? 'train' : 'heldout';
  return sampleAttributes(index, { seed: JUDGE_DATA_SEED, split });
}

/**
 * The scenes `indices` rendered into one batch; with `augment` (a seed), each image gets Gaussian
 * pixel noise of std up to 0.06 and, one time in three, a 3×3 box blur.
 */
export function judgeBatch(indices: ArrayLike<number>, augment: number | null, side = 64): JudgeBatch {
  const n = indices.length;
  const plane = side * side;
  const images = new Float32Array(n * 3 * plane);
  const labels = Object.fromEntries(HEAD_NAMES.map((h) => [h, new Int32Array(n)])) as Record<JudgeHead, Int32Array>;
  for (let k = 0; k < n; k++) {
    const attributes = judgeScene(indices[k]);
    let rgb = renderScene(attributes, side as 64 | 32);
    const l = judgeLabels(attributes);
    for (const h of HEAD_NAMES) labels[h][k] = l[h];
    const random = augment === null ? null : mulberry32(hashSeed(augment, indices[k], 3, 1, 0));
    if (random && random() < 1 / 3) rgb = boxBlur(rgb, side);
    const noise = random ? 0.06 * random() : 0;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        let v = rgb[p * 3 + c] / 127.5 - 1;
        if (random) v += noise * gaussian(random);
        images[(k * 3 + c) * plane + p] = v;
      }
    }
  }
  return { images, labels, count: n };
}

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** 3×3 mean filter, edges clamped. */
export function boxBlur(rgb: Uint8Array, side: number): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
          const yy = Math.min(side - 1, Math.max(0, y + dy));
          const xx = Math.min(side - 1, Math.max(0, x + dx));
          s += rgb[(yy * side + xx) * 3 + c];
        }
        out[(y * side + x) * 3 + c] = Math.round(s / 9);
      }
    }
  }
  return out;
}
