// `sd sample` end to end on tiny random parts saved as the trainers save them: a PNG grid with a row
// per caption and --n columns, one PNG per image with --out-dir, the trivial arm (--prior none), and
// a missing part named with the command that makes it.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeNpy } from '@sd/io';
import { DECODER_SCHEDULER_CONFIG, decodeRgb, exportClip } from '@sd/models';
import { sampleCommand } from '../../packages/cli/src/commands/sample.ts';
import type { SampleCli } from '../../packages/cli/src/options.ts';
import { makeRng, uniform } from '../util/random.ts';
import { tinyPipelineParts } from '../util/tiny-pipeline.ts';

describe('sd sample', () => {
  it('writes a grid (a row per caption, --n columns) and one PNG per image; --prior none works too', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sd-sample-'));
    const { clip, vae, unet, prior, priorDir } = await tinyPipelineParts(true);
    await exportClip(clip, join(root, 'clip.safetensors'));
    await unet.savePretrained(join(root, 'decoder'));
    writeFileSync(join(root, 'decoder', 'scheduler_config.json'), JSON.stringify(DECODER_SCHEDULER_CONFIG));
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

  it('--image-embedding decodes given embeddings (rows L2-normalised) with the chosen --scheduler; bad input is named', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sd-sample-emb-'));
    const { clip, vae, unet } = await tinyPipelineParts(false);
    await unet.savePretrained(join(root, 'decoder'));
    writeFileSync(join(root, 'decoder', 'scheduler_config.json'), JSON.stringify(DECODER_SCHEDULER_CONFIG));
    await vae.savePretrained(join(root, 'vae'));
    await exportClip(clip, join(root, 'clip.safetensors'));
    for (const m of [clip, vae, unet]) m.dispose();
    const rng = makeRng(9);
    const rows = uniform(rng, 2 * 16, -1, 1);
    writeNpy(join(root, 'e.npy'), rows, [2, 16]);
    writeNpy(join(root, 'scaled.npy'), rows.map((v) => 4 * v), [2, 16]);
    const o: SampleCli = { prior: 'shifted', decoder: join(root, 'decoder'), vae: join(root, 'vae'), clip: join(root, 'clip.safetensors'), n: '2', steps: '2', guidance: '2', seed: '1', imageEmbedding: join(root, 'e.npy'), out: join(root, 'e.png') };
    await sampleCommand([], o);
    await sampleCommand([], { ...o, imageEmbedding: join(root, 'scaled.npy'), out: join(root, 'scaled.png') });
    await sampleCommand([], { ...o, scheduler: 'euler', out: join(root, 'euler.png') });
    const [e, scaled, euler] = ['e', 'scaled', 'euler'].map((f) => decodeRgb(readFileSync(join(root, `${f}.png`)), f));
    expect([e.width, e.height]).toEqual([2 * 32, 2 * 32]);
    expect(Array.from(scaled.data)).toEqual(Array.from(e.data));
    expect(Array.from(euler.data)).not.toEqual(Array.from(e.data));
    writeNpy(join(root, 'wide.npy'), new Float32Array(24).fill(1), [24]);
    await expect(sampleCommand([], { ...o, imageEmbedding: join(root, 'wide.npy') })).rejects.toThrow(/wide\.npy: 24-d embeddings, but the decoder takes 16-d ones/);
    await expect(sampleCommand(['a star'], o)).rejects.toThrow('sd sample: give captions or --image-embedding, not both');
    await expect(sampleCommand([], { ...o, scheduler: 'pndm' })).rejects.toThrow('--scheduler must be one of ddim, euler, dpm++, got "pndm"');
  });

  it('names a missing part and the command that makes it', async () => {
    const o: SampleCli = { prior: 'none', decoder: '/nonexistent/decoder', vae: '/nonexistent/vae', n: '1', steps: '1', guidance: '1', seed: '0', out: '/tmp/x.png' };
    await expect(sampleCommand(['a star'], o)).rejects.toThrow(/no decoder at \/nonexistent\/decoder \(`pnpm train:decoder` writes runs\/decoder\/final/);
    await expect(sampleCommand(['a star'], { ...o, prior: '/nonexistent/prior' })).rejects.toThrow(/no prior run at \/nonexistent\/prior \(`pnpm train:prior`/);
  });
});
