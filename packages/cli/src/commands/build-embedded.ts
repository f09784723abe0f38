// `sd build-embedded`: the embedded default for `pnpm train:prior` — procedural captioned images
// (train split, and the held-out shape–colour pairs) encoded by the committed default CLIP.
import { join } from 'node:path';
import { initRuntime } from '@sd/kernels';
import { DEFAULT_DATA_SEED, embeddedDataDir, encodeToRetrievalLayout, generateSample, loadDefaultClip, type EncodeItem } from '@sd/models';
import { parseBuildEmbedded } from '../options.ts';
import { replaceDirectory } from '../replace-dir.ts';

/** Sample indices of the embedded set start here, far from those the default CLIP's evaluation uses. */
const FIRST_INDEX = 50_000_000;

/** Encodes items into a clip-retrieval folder (the default CLIP; tests pass their own). */
export type SplitEncoder = (items: EncodeItem[], outDir: string) => Promise<{ count: number; dim: number }>;

export async function buildEmbeddedCommand(o: { train: string; heldout: string }): Promise<void> {
  const counts = parseBuildEmbedded(o);
  await initRuntime();
  const model = loadDefaultClip();
  await buildEmbedded(embeddedDataDir(), counts, (items, out) => encodeToRetrievalLayout(model, items, out));
}

/**
 * Writes the train and heldout splits of the embedded set into `dir`. Both are encoded into a
 * temporary directory beside it and swapped in only when complete: a failure part-way (minutes into
 * encoding) keeps the committed split as it was.
 */
export async function buildEmbedded(dir: string, counts: { train: number; heldout: number }, encode: SplitEncoder): Promise<void> {
  await replaceDirectory(dir, async (tmp) => {
    for (const split of ['train', 'heldout'] as const) {
      const items: EncodeItem[] = [];
      for (let i = 0; i < counts[split]; i++) {
        const s = generateSample(FIRST_INDEX + i, { seed: DEFAULT_DATA_SEED, split });
        // One caption per image, chosen by index so the set is reproducible.
        const text = s.captions[i % s.captions.length];
        items.push({ image: { data: s.image, width: s.width, height: s.height }, text, metadata: { index: FIRST_INDEX + i, split } });
      }
      const r = await encode(items, join(tmp, split));
      console.log(`${split}: ${r.count} pairs, ${r.dim}-d (${join(dir, split)} once both splits are done)`);
    }
  });
}
