// `sd build-embedded`: the embedded default for `pnpm train:prior` — procedural captioned images
// (train split, and the held-out shape–colour pairs) encoded by the committed default CLIP.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { initRuntime } from '@sd/kernels';
import { DEFAULT_DATA_SEED, embeddedDataDir, encodeToRetrievalLayout, generateSample, loadDefaultClip, type EncodeItem } from '@sd/models';

/** Sample indices of the embedded set start here, far from those the default CLIP's evaluation uses. */
const FIRST_INDEX = 50_000_000;

export async function buildEmbeddedCommand(o: { train: string; heldout: string }): Promise<void> {
  await initRuntime();
  const model = loadDefaultClip();
  const dir = embeddedDataDir();
  for (const [split, count] of [['train', Number(o.train)], ['heldout', Number(o.heldout)]] as const) {
    const items: EncodeItem[] = [];
    for (let i = 0; i < count; i++) {
      const s = generateSample(FIRST_INDEX + i, { seed: DEFAULT_DATA_SEED, split });
      // One caption per image, chosen by index so the set is reproducible.
      const text = s.captions[i % s.captions.length];
      items.push({ image: { data: s.image, width: s.width, height: s.height }, text, metadata: { index: FIRST_INDEX + i, split } });
    }
    rmSync(join(dir, split), { recursive: true, force: true });
    const r = await encodeToRetrievalLayout(model, items, join(dir, split));
    console.log(`${split}: ${r.count} pairs, ${r.dim}-d → ${join(dir, split)}`);
  }
}
