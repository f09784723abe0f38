// `sd build-embedded` replaces the committed embedded split only once the new one is complete: a
// failure part-way (here: the encoder fails on the held-out split) leaves the old split as it was.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EncodeItem } from '@sd/models';
import { buildEmbedded } from '../../packages/cli/src/commands/build-embedded.ts';

/** A stand-in encoder: writes one file naming the items' captions (no CLIP needed). */
const fakeEncoder = (failOn?: string) => async (items: EncodeItem[], outDir: string) => {
  if (failOn && outDir.endsWith(failOn)) throw new Error(`encoder failed on ${outDir}`);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'captions.txt'), items.map((i) => i.text).join('\n'));
  return { count: items.length, dim: 4 };
};

/** Every file under `dir` with its contents. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out[join(entry.parentPath, entry.name).slice(dir.length)] = readFileSync(join(entry.parentPath, entry.name), 'utf8');
  }
  return out;
}

describe('build-embedded', () => {
  const parent = mkdtempSync(join(tmpdir(), 'sd-embedded-'));
  const dir = join(parent, 'embedded-pairs');
  for (const split of ['train', 'heldout']) {
    mkdirSync(join(dir, split), { recursive: true });
    writeFileSync(join(dir, split, 'captions.txt'), `old ${split}`);
  }

  it('a failure part-way keeps the old split whole and leaves no temporary directory', async () => {
    const before = snapshot(dir);
    await expect(buildEmbedded(dir, { train: 3, heldout: 2 }, fakeEncoder('heldout'))).rejects.toThrow(/encoder failed on .*heldout/);
    expect(snapshot(dir)).toEqual(before);
    expect(readdirSync(parent)).toEqual(['embedded-pairs']);
  });

  it('a complete build replaces both splits', async () => {
    await buildEmbedded(dir, { train: 3, heldout: 2 }, fakeEncoder());
    expect(readFileSync(join(dir, 'train', 'captions.txt'), 'utf8').split('\n')).toHaveLength(3);
    expect(readFileSync(join(dir, 'heldout', 'captions.txt'), 'utf8').split('\n')).toHaveLength(2);
    expect(readdirSync(parent)).toEqual(['embedded-pairs']);
    expect(existsSync(join(dir, 'train', 'captions.txt'))).toBe(true);
  });
});
