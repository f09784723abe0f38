// Per-caption diversity: a prior exists to sample the distribution of image embeddings a caption
// allows, so n samples for one caption should spread as widely as n real images of that caption.
// The spread of a group of rows is the mean Euclidean distance over its pairs of unit-normalised
// rows; the real images of a caption are renders of scenes it describes equally well
// (sceneForCaption), so their spread is the reference. A deterministic arm (the text embedding as
// is, the ridge map) has spread 0 by construction.
import type { CaptionMentions } from '../data/captions.ts';
import { renderScene, sceneForCaption, type SampleAttributes } from '../data/dataset.ts';
import { hashSeed, mulberry32 } from '../data/prng.ts';
import type { ImageSet } from '../vae/images.ts';
import { bootstrapInterval, verdict, type BootstrapOptions, type Interval } from './bootstrap.ts';

/** A stream apart from every stream the dataset and the evaluation's fresh renders draw from. */
const CAPTION_SCENES_STREAM = 0xd1e5;

/**
 * `perCaption` real renders of each scene's caption ([count·perCaption] images, a caption's
 * consecutively): scenes it describes equally well (sceneForCaption), each from its own stream.
 */
export function captionRenders(scenes: { attributes: SampleAttributes[]; mentions: CaptionMentions[] }, count: number, perCaption: number, side: 64 | 32 = 64): ImageSet {
  const pixels = new Uint8Array(count * perCaption * side * side * 3);
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < perCaption; k++) {
      const scene = sceneForCaption(scenes.attributes[i], scenes.mentions[i], mulberry32(hashSeed(CAPTION_SCENES_STREAM, i, k)));
      pixels.set(renderScene(scene, side), (i * perCaption + k) * side * side * 3);
    }
  }
  return { pixels, count: count * perCaption, side, source: `${perCaption} scenes for each of ${count} captions` };
}

/** Mean pairwise distance of the unit-normalised rows within each group of `perGroup` consecutive rows ([groups·perGroup, dim] → groups values). */
export function groupSpread(rows: Float32Array, groups: number, perGroup: number, dim: number): Float64Array {
  if (perGroup < 2) throw new Error(`groupSpread: a spread needs at least 2 rows per group, got ${perGroup}`);
  if (rows.length !== groups * perGroup * dim) throw new Error(`groupSpread: ${rows.length} values are not ${groups} groups × ${perGroup} rows × ${dim}`);
  const unit = new Float64Array(rows.length);
  for (let r = 0; r < groups * perGroup; r++) {
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += rows[r * dim + d] ** 2;
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let d = 0; d < dim; d++) unit[r * dim + d] = rows[r * dim + d] * inv;
  }
  const out = new Float64Array(groups);
  for (let g = 0; g < groups; g++) {
    let total = 0;
    for (let i = 0; i < perGroup; i++) {
      for (let j = i + 1; j < perGroup; j++) {
        const [a, b] = [(g * perGroup + i) * dim, (g * perGroup + j) * dim];
        let sq = 0;
        for (let d = 0; d < dim; d++) sq += (unit[a + d] - unit[b + d]) ** 2;
        total += Math.sqrt(sq);
      }
    }
    out[g] = total / ((perGroup * (perGroup - 1)) / 2);
  }
  return out;
}

export interface DiversitySummary {
  /** Mean over captions of the spread of the generated samples. */
  spread: number;
  /** Mean over captions of generated spread / real spread (1: as diverse as the real images). */
  ratio: number;
}

/** An arm's spreads against the real ones, caption by caption (captions whose real spread is 0 are left out of the ratio). */
export function summarizeDiversity(generated: Float64Array, real: Float64Array, indices?: ArrayLike<number>): DiversitySummary {
  const rows = indices ?? Array.from(real, (_, i) => i);
  let spread = 0;
  let ratio = 0;
  let ratioCount = 0;
  for (let k = 0; k < rows.length; k++) {
    const i = rows[k];
    spread += generated[i];
    if (real[i] > 0) {
      ratio += generated[i] / real[i];
      ratioCount++;
    }
  }
  return { spread: spread / rows.length, ratio: ratioCount ? ratio / ratioCount : Number.NaN };
}

/** Paired bootstrap over captions of arm A's diversity ratio minus arm B's. */
export function compareDiversity(a: Float64Array, b: Float64Array, real: Float64Array, options: BootstrapOptions = {}): Interval & { verdict: ReturnType<typeof verdict> } {
  const interval = bootstrapInterval(real.length, (idx) => summarizeDiversity(a, real, idx).ratio - summarizeDiversity(b, real, idx).ratio, options);
  return { ...interval, verdict: verdict(interval) };
}
