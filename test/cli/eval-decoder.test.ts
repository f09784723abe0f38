// `sd eval-decoder` (the oracle arm) on tiny random parts saved as the trainers save them, against
// an independent computation of the same thing: the held-out single-object images generated one by
// one, their CLIP image embeddings normalised here, decoded with the same noise stream in the same
// batches, and both sets classified by the CLIP's zero-shot rule.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AutoencoderKL, DECODER_SCHEDULER_CONFIG, DEFAULT_DATA_SEED, UNet2DConditionModel, UNet2DConditionModelEmb, decodeEmbeddings, decodeRgb, embedImages, exportClip, generateSample,
  loadExportedClip, purposeGenerator, zeroShotAccuracyOn,
} from '@sd/models';
import { evalDecoderCommand } from '../../packages/cli/src/commands/eval-decoder.ts';
import type { EvalDecoderCli } from '../../packages/cli/src/options.ts';
import { tinyPipelineParts } from '../util/tiny-pipeline.ts';

describe('sd eval-decoder', () => {
  it('decodes the true embeddings of held-out images and scores both sets, as computed independently', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sd-eval-decoder-'));
    const { clip, vae, unet } = await tinyPipelineParts(false);
    await exportClip(clip, join(root, 'clip.safetensors'));
    await unet.savePretrained(join(root, 'decoder'));
    writeFileSync(join(root, 'decoder', 'scheduler_config.json'), JSON.stringify(DECODER_SCHEDULER_CONFIG));
    await vae.savePretrained(join(root, 'vae'));
    for (const m of [clip, vae, unet]) m.dispose();
    const o: EvalDecoderCli = { decoder: join(root, 'decoder'), vae: join(root, 'vae'), clip: join(root, 'clip.safetensors'), n: '12', steps: '2', guidance: '2', seed: '4', batchSize: '5', out: join(root, 'oracle.json') };
    const got = await evalDecoderCommand(o);

    // The same 12 held-out single-object images (32 px: the tiny VAE's sample_size), made one by one.
    const samples = Array.from({ length: 12 }, (_, i) => generateSample(10_000_000 + i, { seed: DEFAULT_DATA_SEED, split: 'heldout', objectCount: 1, resolution: 32 }));
    expect(got.originals.pixels).toEqual(Uint8Array.from(samples.flatMap((s) => Array.from(s.image))));
    const c = loadExportedClip(o.clip!);
    const e = await embedImages(c, samples.map((s) => ({ data: s.image, width: 32, height: 32 })));
    for (let i = 0; i < 12; i++) {
      const row = e.subarray(i * 16, (i + 1) * 16);
      const norm = Math.hypot(...row);
      for (let k = 0; k < 16; k++) row[k] /= norm;
    }
    // Batches of 5, 5 and 2, one "decoder/oracle" stream drawn in order.
    const u = UNet2DConditionModel.fromPretrained(o.decoder!) as UNet2DConditionModelEmb;
    const v = AutoencoderKL.fromPretrained(o.vae!);
    const generator = purposeGenerator(4, 'decoder/oracle');
    const decoded: number[] = [];
    for (const [from, to] of [[0, 5], [5, 10], [10, 12]]) {
      decoded.push(...(await decodeEmbeddings(u, v, e.subarray(from * 16, to * 16), to - from, { steps: 2, guidance: 2, schedulerConfig: DECODER_SCHEDULER_CONFIG, side: 8, generator })).pixels);
    }
    expect(got.images.pixels).toEqual(Uint8Array.from(decoded));

    const truth = samples.map((s) => s.attributes);
    const image = (p: Uint8Array, i: number) => ({ data: p.subarray(i * 32 * 32 * 3, (i + 1) * 32 * 32 * 3), width: 32, height: 32 });
    expect(got.real).toEqual((await zeroShotAccuracyOn(c, samples.map((s) => ({ data: s.image, width: 32, height: 32 })), truth)).marginal);
    expect(got.generated).toEqual((await zeroShotAccuracyOn(c, truth.map((_, i) => image(got.images.pixels, i)), truth)).marginal);

    const report = JSON.parse(readFileSync(o.out, 'utf8'));
    expect(report).toMatchObject({ count: 12, steps: 2, guidance: 2, seed: 4, batchSize: 5, real: got.real, generated: got.generated, decoder: o.decoder });
    const grid = decodeRgb(readFileSync(join(root, 'oracle.png')), 'oracle.png');
    expect([grid.width, grid.height]).toEqual([8 * 32 + 7 * 2, 2 * 32 + 2]);
    expect(existsSync(join(root, 'oracle.png'))).toBe(true);
  });

  it('refuses bad numbers and names a missing part', async () => {
    const o: EvalDecoderCli = { decoder: '/nonexistent/decoder', vae: '/nonexistent/vae', n: '10', steps: '2', guidance: '2', seed: '0', batchSize: '50', out: '/tmp/x.json' };
    await expect(evalDecoderCommand({ ...o, n: '0' })).rejects.toThrow('--n must be an integer ≥ 1, got "0"');
    await expect(evalDecoderCommand({ ...o, batchSize: '2.5' })).rejects.toThrow('--batch-size must be an integer ≥ 1, got "2.5"');
    await expect(evalDecoderCommand({ ...o, guidance: '-1' })).rejects.toThrow('--guidance must be a number ≥ 0, got "-1"');
    await expect(evalDecoderCommand(o)).rejects.toThrow('sd eval-decoder: no decoder at /nonexistent/decoder (`pnpm train:decoder` writes runs/decoder/final)');
  });
});
