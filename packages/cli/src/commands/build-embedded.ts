// `sd build-embedded`: the embedded default for `pnpm train:prior` — procedural captioned images
// encoded by the committed default CLIP, in three disjoint splits of scenes: train (training
// shape–colour pairs), validation (held-out pairs: every tuning decision) and test (held-out pairs
// from another index range: final tables only).
import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { initRuntime } from '@sd/kernels';
import { EMBEDDED_SPLITS, SPLIT_SOURCE, embeddedDataDir, embeddedSplitRow, encodeToRetrievalLayout, loadDefaultClip, type EmbeddedSplit, type EncodeItem } from '@sd/models';

export { EMBEDDED_SPLITS, SPLIT_SOURCE, type EmbeddedSplit };
import { parseBuildEmbedded } from '../options.ts';
import { replaceDirectory } from '../replace-dir.ts';

/** Encodes items into a clip-retrieval folder (the default CLIP; tests pass their own). */
export type SplitEncoder = (items: EncodeItem[], outDir: string) => Promise<{ count: number; dim: number }>;

export async function buildEmbeddedCommand(o: { train: string; validation: string; test: string; splits: string }): Promise<void> {
  const { counts, splits } = parseBuildEmbedded(o);
  await initRuntime();
  const model = loadDefaultClip();
  await buildEmbedded(embeddedDataDir(), counts, (items, out) => encodeToRetrievalLayout(model, items, out), splits);
}

/**
 * Writes the splits `only` (default: all) of the embedded set into `dir`, keeping the others as they
 * are. Everything is written into a temporary directory beside it and swapped in only when complete:
 * a failure part-way (minutes into encoding) keeps the committed splits as they were.
 */
export async function buildEmbedded(dir: string, counts: Record<EmbeddedSplit, number>, encode: SplitEncoder, only: readonly EmbeddedSplit[] = EMBEDDED_SPLITS): Promise<void> {
  await replaceDirectory(dir, async (tmp) => {
    for (const split of EMBEDDED_SPLITS) {
      if (!only.includes(split)) {
        if (existsSync(join(dir, split))) cpSync(join(dir, split), join(tmp, split), { recursive: true });
        continue;
      }
      const { firstIndex, pairs } = SPLIT_SOURCE[split];
      const items: EncodeItem[] = [];
      for (let i = 0; i < counts[split]; i++) {
        const { sample: s, caption: text } = embeddedSplitRow(split, i);
        items.push({ image: { data: s.image, width: s.width, height: s.height }, text, metadata: { index: firstIndex + i, split: pairs } });
      }
      const r = await encode(items, join(tmp, split));
      console.log(`${split}: ${r.count} pairs, ${r.dim}-d (${join(dir, split)} once every split is done)`);
    }
  });
}
