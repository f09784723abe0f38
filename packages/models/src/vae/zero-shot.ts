// Whether reconstructions keep what the captions talk about: a CLIP's zero-shot accuracy per
// attribute (colour, shape, size, position; marginal rule) on held-out single-object images and on
// the VAE's reconstructions of the same images, side by side.
import { sampleAttributes } from '../data/dataset.ts';
import { zeroShotAccuracyOn, type Accuracy } from '../clip/evaluate.ts';
import type { ContrastiveModel } from '../clip/contrastive.ts';
import { imageAt, proceduralImages } from './images.ts';
import { reconstructImages } from './evaluate.ts';
import type { AutoencoderKL } from './model.ts';

export interface ReconstructionZeroShot {
  /** Held-out single-object images (shape–colour pairs neither the CLIP nor the VAE trained on). */
  count: number;
  original: Accuracy;
  reconstruction: Accuracy;
}

/**
 * The CLIP's marginal-rule accuracy on `count` held-out single-object images from sample `evalSeed`
 * on (evaluateClip's images when the seeds agree) and on their 8-bit reconstructions.
 */
export async function reconstructionZeroShot(vae: AutoencoderKL, clip: ContrastiveModel, options: { count: number; dataSeed: number; evalSeed?: number }): Promise<ReconstructionZeroShot> {
  const procedural = { seed: options.dataSeed, split: 'heldout' as const, objectCount: 1 as const, start: options.evalSeed ?? 10_000_000 };
  const originals = proceduralImages(options.count, procedural);
  const truth = Array.from({ length: options.count }, (_, i) => sampleAttributes(procedural.start + i, procedural));
  const reconstructions = await reconstructImages(vae, originals);
  const all = (set: typeof originals) => Array.from({ length: set.count }, (_, i) => imageAt(set, i));
  const original = (await zeroShotAccuracyOn(clip, all(originals), truth)).marginal;
  const reconstruction = (await zeroShotAccuracyOn(clip, all(reconstructions), truth)).marginal;
  return { count: options.count, original, reconstruction };
}
