// `sd build-embedded` replaces the committed embedded split only once the new one is complete: a
// failure part-way (here: the encoder fails on the held-out split) leaves the old split as it was.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EncodeItem } from '@sd/models';
import { buildEmbedded, SPLIT_SOURCE } from '../../packages/cli/src/commands/build-embedded.ts';

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
  for (const split of ['train', 'validation', 'test']) {
    mkdirSync(join(dir, split), { recursive: true });
    writeFileSync(join(dir, split, 'captions.txt'), `old ${split}`);
  }

  it('a failure part-way keeps the old split whole and leaves no temporary directory', async () => {
    const before = snapshot(dir);
    await expect(buildEmbedded(dir, { train: 3, validation: 2, test: 1 }, fakeEncoder('test'))).rejects.toThrow(/encoder failed on .*test/);
    expect(snapshot(dir)).toEqual(before);
    expect(readdirSync(parent)).toEqual(['embedded-pairs']);
  });

  it('rebuilding one split keeps the others byte for byte', async () => {
    await buildEmbedded(dir, { train: 3, validation: 2, test: 4 }, fakeEncoder(), ['test']);
    expect(readFileSync(join(dir, 'test', 'captions.txt'), 'utf8').split('\n')).toHaveLength(4);
    expect(readFileSync(join(dir, 'train', 'captions.txt'), 'utf8')).toBe('old train');
    expect(readFileSync(join(dir, 'validation', 'captions.txt'), 'utf8')).toBe('old validation');
    expect(readdirSync(parent)).toEqual(['embedded-pairs']);
  });

  it('a complete build replaces every split; validation and test are disjoint scenes of the held-out pairs', async () => {
    await buildEmbedded(dir, { train: 3, validation: 2, test: 5 }, fakeEncoder());
    const captions = (split: string) => readFileSync(join(dir, split, 'captions.txt'), 'utf8').split('\n');
    expect(captions('train')).toHaveLength(3);
    expect(captions('validation')).toHaveLength(2);
    expect(captions('test')).toHaveLength(5);
    expect(SPLIT_SOURCE.validation.pairs).toBe('heldout');
    expect(SPLIT_SOURCE.test.pairs).toBe('heldout');
    expect(SPLIT_SOURCE.test.firstIndex).toBeGreaterThanOrEqual(SPLIT_SOURCE.validation.firstIndex + 1_000_000);
    expect(readdirSync(parent)).toEqual(['embedded-pairs']);
  });
});
