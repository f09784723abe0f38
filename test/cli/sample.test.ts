// `sd sample` end to end on tiny random parts saved as the trainers save them: a PNG grid with a row
// per caption and --n columns, one PNG per image with --out-dir, the trivial arm (--prior none), a
// MultiCLIP of two CLIPs, and a missing part named with the command that makes it.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeNpy } from '@sd/io';
import { manualSeed } from '@sd/autograd';
import { CLIP, DECODER_SCHEDULER_CONFIG, TextToImagePipeline, buildDecoderUnet, decodeRgb, embedTexts, exportClip, openClip } from '@sd/models';
import { expectClose } from '../util/close.ts';
import { sampleCommand } from '../../packages/cli/src/commands/sample.ts';
import type { SampleCli } from '../../packages/cli/src/options.ts';
import { makeRng, uniform } from '../util/random.ts';
import { TINY_CLIP, TINY_UNET, tinyPipelineParts } from '../util/tiny-pipeline.ts';

describe('sd sample', () => {
  it('writes a grid (a row per caption, --n columns) and one PNG per image; --prior none works too', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sd-sample-'));
    const { clip, vae, unet, prior, priorDir } = await tinyPipelineParts(true);
    await exportClip(clip, join(root, 'clip.safetensors'));
    await unet.savePretrained(join(root, 'decoder'));
    writeFileSync(join(root, 'decoder', 'scheduler_config.json'), JSON.stringify(DECODER_SCHEDULER_CONFIG));
    await vae.savePretrained(join(root, 'vae'));
    for (const m of [clip, vae, unet, prior!.model]) m.dispose();
    const o: SampleCli = { prior: priorDir, decoder: join(root, 'decoder'), vae: join(root, 'vae'), clip: [join(root, 'clip.safetensors')], n: '3', steps: '2', guidance: '2', seed: '0', out: join(root, 'grid.png'), outDir: join(root, 'each') };
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
    const o: SampleCli = { prior: 'shifted', decoder: join(root, 'decoder'), vae: join(root, 'vae'), clip: [join(root, 'clip.safetensors')], n: '2', steps: '2', guidance: '2', seed: '1', imageEmbedding: join(root, 'e.npy'), out: join(root, 'e.png') };
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

  it('samples through a MultiCLIP (--clip twice): the decoder sees the CLIPs\' text embeddings side by side, normalised per --clip-normalize', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sd-sample-multi-'));
    const { clip, vae } = await tinyPipelineParts(false);
    manualSeed(7);
    const other = new CLIP({ ...TINY_CLIP, embedDim: 8, vision: { ...TINY_CLIP.vision, imageResolution: 64, patchSize: 16 } });
    const unet = buildDecoderUnet({ ...TINY_UNET, input_dim: 24 }, 4).eval();
    const paths = [join(root, 'a.safetensors'), join(root, 'b.safetensors')];
    await exportClip(clip, paths[0]);
    await exportClip(other, paths[1]);
    await unet.savePretrained(join(root, 'decoder'));
    writeFileSync(join(root, 'decoder', 'scheduler_config.json'), JSON.stringify(DECODER_SCHEDULER_CONFIG));
    await vae.savePretrained(join(root, 'vae'));
    const caption = 'a red star in the top left corner';
    for (const m of [clip, other, vae, unet]) m.dispose();
    // As exported (F16 weights), each CLIP alone.
    const [ca, cb] = paths.map(openClip);
    const [ta, tb] = [await embedTexts(ca, [caption]), await embedTexts(cb, [caption])];
    for (const m of [ca, cb]) m.dispose();
    const scale = (x: Float32Array, by: number) => Array.from(x, (v) => v / by);
    const norm = (x: Float32Array) => Math.hypot(...x);
    const perModel = Float32Array.from([...scale(ta, norm(ta)), ...scale(tb, norm(tb))]);
    const raw = Float32Array.from([...ta, ...tb]);
    for (const [name, rows] of [['per-model', perModel], ['raw', raw]] as const) writeNpy(join(root, `${name}.npy`), rows, [24]);
    const o: SampleCli = { prior: 'none', decoder: join(root, 'decoder'), vae: join(root, 'vae'), clip: paths, n: '1', steps: '2', guidance: '2', seed: '3', out: join(root, 'text.png') };
    const pixels = async (extra: Partial<SampleCli>, name: string) => {
      await sampleCommand(extra.imageEmbedding ? [] : [caption], { ...o, ...extra, out: join(root, `${name}.png`) });
      return decodeRgb(readFileSync(join(root, `${name}.png`)), name).data;
    };
    // The pipeline's text embedding is the CLIPs' unit embeddings side by side, not the whole row made
    // unit; 'none' keeps the raw concatenation.
    for (const [normalize, expected] of [[true, perModel], [false, raw]] as const) {
      const pipeline = TextToImagePipeline.load({ clip: paths, clipNormalize: normalize, prior: 'none', decoder: o.decoder!, vae: o.vae! });
      const { textEmbeddings, embeddings } = await pipeline.generate([caption], { steps: 1 });
      pipeline.dispose();
      expectClose(textEmbeddings, expected, { rtol: 1e-6, atol: 1e-7 }, `normalize ${normalize}`);
      expect(Array.from(embeddings)).toEqual(Array.from(textEmbeddings));
    }
    // The command decodes that embedding: the same image as the .npy of it (up to a level of rounding
    // of the float32 normalisations), and with 'none' the raw one exactly.
    const maxDiff = (x: Uint8Array, y: Uint8Array) => x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);
    expect(maxDiff(await pixels({}, 'text'), await pixels({ imageEmbedding: join(root, 'per-model.npy') }, 'per-model'))).toBeLessThanOrEqual(1);
    expect(Array.from(await pixels({ clipNormalize: 'none' }, 'raw-text'))).toEqual(Array.from(await pixels({ clipNormalize: 'none', imageEmbedding: join(root, 'raw.npy') }, 'raw')));
    await expect(sampleCommand([caption], { ...o, clip: [paths[0]] })).rejects.toThrow('TextToImagePipeline: the decoder takes 24-d embeddings, the CLIP makes 16-d ones');
  });

  it('names a missing part and the command that makes it', async () => {
    const o: SampleCli = { prior: 'none', decoder: '/nonexistent/decoder', vae: '/nonexistent/vae', n: '1', steps: '1', guidance: '1', seed: '0', out: '/tmp/x.png' };
    await expect(sampleCommand(['a star'], o)).rejects.toThrow(/no decoder at \/nonexistent\/decoder \(`pnpm train:decoder` writes runs\/decoder\/final/);
    await expect(sampleCommand(['a star'], { ...o, prior: '/nonexistent/prior' })).rejects.toThrow(/no prior run at \/nonexistent\/prior \(`pnpm train:prior`/);
  });
});
