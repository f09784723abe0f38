// `sd sample` end to end on tiny random parts saved as the trainers save them: a PNG grid with a row
// per caption and --n columns, one PNG per image with --out-dir, the trivial arm (--prior none), and
// a missing part named with the command that makes it.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeRgb, exportClip } from '@sd/models';
import { sampleCommand } from '../../packages/cli/src/commands/sample.ts';
import type { SampleCli } from '../../packages/cli/src/options.ts';
import { tinyPipelineParts } from '../util/tiny-pipeline.ts';

describe('sd sample', () => {
  it('writes a grid (a row per caption, --n columns) and one PNG per image; --prior none works too', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sd-sample-'));
    const { clip, vae, unet, prior, priorDir } = await tinyPipelineParts(true);
    await exportClip(clip, join(root, 'clip.safetensors'));
    await unet.savePretrained(join(root, 'decoder'));
    await vae.savePretrained(join(root, 'vae'));
    for (const m of [clip, vae, unet, prior!.model]) m.dispose();
    const o: SampleCli = { prior: priorDir, decoder: join(root, 'decoder'), vae: join(root, 'vae'), clip: join(root, 'clip.safetensors'), n: '3', steps: '2', guidance: '2', seed: '0', out: join(root, 'grid.png'), outDir: join(root, 'each') };
    await sampleCommand(['a red star', 'a blue circle'], o);
    const grid = decodeRgb(readFileSync(o.out), o.out);
    expect([grid.width, grid.height]).toEqual([3 * 32, 2 * 32]);
    expect(readdirSync(o.outDir!).sort()).toEqual(['000.png', '001.png', '002.png', '003.png', '004.png', '005.png']);
    // Image k of the grid is the k-th file: row k / 3, column k % 3.
    const fifth = decodeRgb(readFileSync(join(o.outDir!, '004.png')), '004.png');
    for (const [x, y] of [[0, 0], [17, 9], [31, 31]]) {
      const g = ((32 + y) * 96 + 32 + x) * 3;
      expect(Array.from(fifth.data.subarray((y * 32 + x) * 3, (y * 32 + x) * 3 + 3))).toEqual(Array.from(grid.data.subarray(g, g + 3)));
    }
    await sampleCommand(['a red star'], { ...o, prior: 'none', out: join(root, 'none.png'), outDir: undefined });
    expect(decodeRgb(readFileSync(join(root, 'none.png')), 'none.png').width).toBe(3 * 32);
  });

  it('names a missing part and the command that makes it', async () => {
    const o: SampleCli = { prior: 'none', decoder: '/nonexistent/decoder', vae: '/nonexistent/vae', n: '1', steps: '1', guidance: '1', seed: '0', out: '/tmp/x.png' };
    await expect(sampleCommand(['a star'], o)).rejects.toThrow(/no decoder at \/nonexistent\/decoder \(`pnpm train:decoder` writes runs\/decoder\/final/);
    await expect(sampleCommand(['a star'], { ...o, prior: '/nonexistent/prior' })).rejects.toThrow(/no prior run at \/nonexistent\/prior \(`pnpm train:prior`/);
  });
});
