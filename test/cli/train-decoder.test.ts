// `sd train-decoder` end to end on a four-image folder (a tiny random VAE saved as a diffusers folder,
// the default CLIP, the default decoder UNet config for 2 steps at batch 2), on a MultiCLIP of two tiny
// CLIPs, and its refusals: a VAE whose latents do not fit the UNet (named, before any image is read),
// an empty folder, no VAE at all, a used run directory, another CLIP normalisation at --resume, and
// bad numbers.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { manualSeed } from '@sd/autograd';
import { readSafetensors } from '@sd/io';
import { AutoencoderKL, CLIP, UNet2DConditionModel, disposeModule, embedImages, encodeRgbPng, exportClip, generateSample, openClip, readDecoderSchedulerConfig, TextToImagePipeline } from '@sd/models';
import { expectClose } from '../util/close.ts';
import { trainDecoderCommand } from '../../packages/cli/src/commands/train-decoder.ts';
import type { TrainDecoderCli } from '../../packages/cli/src/options.ts';

const root = mkdtempSync(join(tmpdir(), 'sd-train-decoder-'));
/** 64×64 images to 16×16×4 latents like the default VAE, at widths that make it instant. */
const VAE_64: Record<string, unknown> = {
  down_block_types: Array(3).fill('DownEncoderBlock2D'), up_block_types: Array(3).fill('UpDecoderBlock2D'),
  block_out_channels: [4, 8, 8], layers_per_block: 1, latent_channels: 4, norm_num_groups: 4, sample_size: 64, scaling_factor: 0.6,
};
const vaeDir = join(root, 'vae');
const vae8Dir = join(root, 'vae-8ch');
const clip16 = join(root, 'clip-16.safetensors');
const clip8 = join(root, 'clip-8.safetensors');
const cli = (o: Partial<TrainDecoderCli>): TrainDecoderCli => ({ vae: vaeDir, steps: '2', batchSize: '2', lr: '1e-3', seed: '0', sampleEvery: '0', prediction: 'epsilon', out: join(root, 'unused'), ...o });

function folder(name: string, count: number): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const files = Array.from({ length: count }, (_, i) => `${i}.png`);
  files.forEach((f, i) => writeFileSync(join(dir, f), encodeRgbPng({ width: 64, height: 64, data: generateSample(i, { seed: 0, resolution: 64 }).image })));
  writeFileSync(join(dir, 'metadata.jsonl'), files.map((f) => JSON.stringify({ file_name: f }) + '\n').join(''));
  return dir;
}

beforeAll(async () => {
  manualSeed(1);
  await new AutoencoderKL(VAE_64).savePretrained(vaeDir);
  await new AutoencoderKL({ ...VAE_64, latent_channels: 8 }).savePretrained(vae8Dir);
  manualSeed(2);
  await exportClip(new CLIP({ embedDim: 16, vision: { kind: 'vit', imageResolution: 32, patchSize: 8, width: 16, layers: 1, heads: 2 }, text: { contextLength: 16, vocabSize: 49408, width: 16, heads: 2, layers: 1 } }), clip16);
  manualSeed(3);
  await exportClip(new CLIP({ embedDim: 8, vision: { kind: 'vit', imageResolution: 64, patchSize: 16, width: 16, layers: 1, heads: 2 }, text: { contextLength: 16, vocabSize: 49408, width: 16, heads: 2, layers: 1 } }), clip8);
});

describe('sd train-decoder', () => {
  it('trains on a folder without captions and writes the run, a sample grid and a diffusers folder', async () => {
    const out = join(root, 'run');
    await trainDecoderCommand(cli({ data: folder('four', 4), holdout: '1', prediction: 'v_prediction', out }));
    for (const f of ['config.json', 'checkpoint.safetensors', 'latents.safetensors', 'metrics.jsonl', 'loss.png', 'samples/step-000002.png', 'final/config.json']) expect(existsSync(join(out, f)), f).toBe(true);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.data.count).toBe(3);
    expect(config.data.vae).toBe(vaeDir);
    // What the UNet predicts travels with it: every sampler reads the folder's scheduler_config.json.
    expect(config.scheduler.prediction_type).toBe('v_prediction');
    expect(readDecoderSchedulerConfig(join(out, 'final')).prediction_type).toBe('v_prediction');
    expect(UNet2DConditionModel.fromPretrained(join(out, 'final')).config.in_channels).toBe(4);
    // The same command again is refused before any image is read (this --data does not exist).
    await expect(trainDecoderCommand(cli({ data: join(root, 'nowhere'), out }))).rejects.toThrow(/already holds a run .*continue it with --resume/);
  });

  it('names a VAE whose latents do not fit the decoder UNet, before reading any image', async () => {
    await expect(trainDecoderCommand(cli({ vae: vae8Dir, data: join(root, 'nowhere') })))
      .rejects.toThrow(`${vae8Dir}: the VAE's latent_channels is 8, but the decoder UNet config has in_channels 4 and out_channels 4; they must all agree`);
  });

  it("conditions on a MultiCLIP (--clip twice): input_dim is the sum, the cache holds each CLIP's unit embedding side by side, and another normalisation is refused at --resume", async () => {
    const out = join(root, 'multi');
    const data = folder('three', 3);
    await trainDecoderCommand(cli({ data, holdout: '1', clip: [clip16, clip8], out }));
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.model.input_dim).toBe(24);
    expect(config.data.clip).toBe(`MultiCLIP(${clip16} + ${clip8}; per-model)`);
    expect(UNet2DConditionModel.fromPretrained(join(out, 'final')).config.input_dim).toBe(24);
    // final/ names its embedding space: sampling it in another one is refused.
    const space = JSON.parse(readFileSync(join(out, 'final', 'clip_space.json'), 'utf8'));
    expect([space.blocks, space.normalize, space.clip]).toEqual([[16, 8], true, config.data.clip]);
    const sources = { prior: 'none', decoder: join(out, 'final'), vae: vaeDir };
    for (const wrong of [{ clip: [clip16, clip8], clipNormalize: false }, { clip: [clip8, clip16] }]) {
      expect(() => TextToImagePipeline.load({ ...sources, ...wrong })).toThrow(/clip_space\.json: the decoder was trained on a MultiCLIP of 16 \+ 8-d models, per-model unit .* Give the same --clip list/);
    }
    TextToImagePipeline.load({ ...sources, clip: [clip16, clip8] }).dispose();
    const cached = readSafetensors(join(out, 'latents.safetensors')).tensors.get('embeddings')!;
    expect(cached.shape).toEqual([2, 24]);
    // The two training images (the folder's first two), embedded by each CLIP alone, unit rows side by side.
    const images = [0, 1].map((i) => ({ data: generateSample(i, { seed: 0, resolution: 64 }).image, width: 64, height: 64 }));
    const [a, b] = [openClip(clip16), openClip(clip8)];
    const unit = (rows: Float32Array, dim: number, r: number) => {
      const row = Array.from(rows.subarray(r * dim, (r + 1) * dim));
      const norm = Math.hypot(...row);
      return row.map((v) => v / norm);
    };
    const [ea, eb] = [await embedImages(a, images), await embedImages(b, images)];
    expectClose(cached.data, [0, 1].flatMap((r) => [...unit(ea, 16, r), ...unit(eb, 8, r)]), { rtol: 1e-5, atol: 1e-6 });
    disposeModule(a);
    disposeModule(b);
    await expect(trainDecoderCommand(cli({ data, holdout: '1', clip: [clip16, clip8], clipNormalize: 'none', steps: '3', resume: true, out })))
      .rejects.toThrow(/stale latent cache[^]*the CLIP \(its weights; a MultiCLIP's models or normalisation\) changed/);
    await expect(trainDecoderCommand(cli({ clip: [clip16, clip8], clipNormalize: 'sum' }))).rejects.toThrow("sd train-decoder: --clip-normalize must be 'per-model' or 'none', got 'sum'");
  });

  it('refuses an empty folder, a missing VAE and bad numbers', async () => {
    mkdirSync(join(root, 'empty'));
    await expect(trainDecoderCommand(cli({ data: join(root, 'empty') }))).rejects.toThrow(/empty: the image folder is empty/);
    await expect(trainDecoderCommand(cli({ vae: join(root, 'no-vae') }))).rejects.toThrow(/no-vae/);
    await expect(trainDecoderCommand(cli({ sampleEvery: '-1' }))).rejects.toThrow('--sample-every must be an integer ≥ 0, got "-1"');
    await expect(trainDecoderCommand(cli({ prediction: 'x0' }))).rejects.toThrow('--prediction must be one of epsilon, v_prediction, got "x0"');
    await expect(trainDecoderCommand(cli({ decaySteps: '3' }))).rejects.toThrow('--decay-steps must be an integer in [0, 2], got "3"');
  });
});
