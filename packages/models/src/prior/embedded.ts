// The embedded default for `pnpm train:prior`: the project's procedural captioned images encoded by
// its committed default CLIP, stored in the repository as clip-retrieval folders (train and the
// held-out attribute combinations). `sd build-embedded` regenerates them.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_DATA_SEED } from '../clip/default.ts';
import { generateSample, type Sample } from '../data/dataset.ts';
import { loadEmbeddingPairs, type EmbeddingPairs } from './data.ts';

export const EMBEDDED_SPLITS = ['train', 'validation', 'test'] as const;
export type EmbeddedSplit = (typeof EMBEDDED_SPLITS)[number];

/**
 * Where each split's sample indices start (far from those the default CLIP's training and
 * evaluation use), and which shape–colour pairs its scenes use. Validation and test are disjoint
 * scenes of the same distribution: the dataset's held-out pairs, which train never contains.
 */
export const SPLIT_SOURCE: Record<EmbeddedSplit, { firstIndex: number; pairs: 'train' | 'heldout' }> = {
  train: { firstIndex: 50_000_000, pairs: 'train' },
  validation: { firstIndex: 50_000_000, pairs: 'heldout' },
  test: { firstIndex: 60_000_000, pairs: 'heldout' },
};

/**
 * Row `i` of an embedded split: the procedural sample it was encoded from and the one caption chosen
 * for it (by index, so the set is reproducible). `sd build-embedded` encodes exactly these, so the
 * scene, the real image and the caption behind every stored pair can be regenerated.
 */
export function embeddedSplitRow(split: EmbeddedSplit, i: number): { sample: Sample; caption: string } {
  const { firstIndex, pairs } = SPLIT_SOURCE[split];
  const sample = generateSample(firstIndex + i, { seed: DEFAULT_DATA_SEED, split: pairs });
  return { sample, caption: sample.captions[i % sample.captions.length] };
}

/** Where the embedded pairs live (inside @sd/models, so a bundle can point elsewhere via SD_ASSETS). */
export function embeddedDataDir(): string {
  if (process.env.SD_ASSETS) return join(process.env.SD_ASSETS, 'embedded-pairs');
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'assets', 'embedded-pairs');
}

/**
 * The training pairs and one evaluation split: 'validation' (for every tuning decision; the default)
 * or 'test' (final tables only). Both hold the shape–colour combinations train never has.
 */
export function loadEmbeddedPriorData(evalSplit: 'validation' | 'test' = 'validation'): { train: EmbeddingPairs; heldOut: EmbeddingPairs } {
  const dir = embeddedDataDir();
  for (const split of ['train', evalSplit]) {
    if (!existsSync(join(dir, split))) throw new Error(`${join(dir, split)}: the embedded default's ${split} split is missing; rebuild it with \`pnpm sd build-embedded --splits ${split}\``);
  }
  return { train: loadEmbeddingPairs(join(dir, 'train')), heldOut: loadEmbeddingPairs(join(dir, evalSplit)) };
}
