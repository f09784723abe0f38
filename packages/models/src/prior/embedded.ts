// The embedded default for `pnpm train:prior`: the project's procedural captioned images encoded by
// its committed default CLIP, stored in the repository as clip-retrieval folders (train and the
// held-out attribute combinations). `sd build-embedded` regenerates them.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadEmbeddingPairs, type EmbeddingPairs } from './data.ts';

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
