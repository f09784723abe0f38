// Training the VAE end to end on a tiny config and 32×32 procedural images: the loss falls, a killed
// and resumed run reaches the uninterrupted run's weights bit for bit, a used run directory is refused,
// the stored scaling_factor is 1/std of the training latents (checked in float64 here), and the
// reconstruction PSNR matches a float64 computation, a diverging run keeps its last good checkpoint,
// and the default CLIP scores originals and reconstructions image for image.
import { appendFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { noGrad, tensor, tidy } from '@sd/autograd';
import { readSafetensors } from '@sd/io';
import { DeviceArray } from '@sd/kernels';
import {
  AutoencoderKL, buildVae, evaluateReconstruction, generateSample, imageBatch, imageBytes, loadDefaultClip, proceduralImages, psnr,
  imageCropBatch, purposeGenerator, reconstructionZeroShot, subsetImages, trainVae, vaeCropOffsets, vaeCropSteps, zeroShotAccuracyOn, type VaeTrainSettings,
} from '@sd/models';
import { makeRng } from '../util/random.ts';

/** Two downsamplings like the default, at widths that make a step take milliseconds. */
const TINY_VAE: Record<string, unknown> = {
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
  block_out_channels: [4, 8, 8],
  layers_per_block: 1,
  latent_channels: 4,
  norm_num_groups: 4,
  sample_size: 32,
  scaling_factor: 1,
};

const SETTINGS: VaeTrainSettings = {
  steps: 40, batchSize: 4, lr: 3e-3, betas: [0.9, 0.999], weightDecay: 0.01, eps: 1e-8, maxGradNorm: 1, warmupSteps: 4,
  klWeight: 1e-4, crop: 32, cropShare: 1, schedule: 'constant', seed: 5, checkpointEvery: 10, logEvery: 1,
};

const images = proceduralImages(24, { seed: 1, split: 'train', resolution: 32 });
const heldOut = proceduralImages(6, { seed: 1, split: 'heldout', resolution: 32 });
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const metrics = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number });

function expectSameTensors(a: string, b: string): void {
  const x = readSafetensors(a).tensors;
  const y = readSafetensors(b).tensors;
  expect([...y.keys()]).toEqual([...x.keys()]);
  for (const [name, t] of x) expect(Array.from(y.get(name)!.data), name).toEqual(Array.from(t.data));
}

/** Float64, two passes, unbiased: the standard deviation the scaling factor must invert. */
function std64(values: ArrayLike<number>): number {
  let mean = 0;
  for (let i = 0; i < values.length; i++) mean += values[i];
  mean /= values.length;
  let ss = 0;
  for (let i = 0; i < values.length; i++) ss += (values[i] - mean) ** 2;
  return Math.sqrt(ss / (values.length - 1));
}

/** Float64 PSNR on the [0, 1] scale with the reconstruction clamped, written out independently. */
function psnr64(original: ArrayLike<number>, reconstruction: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < original.length; i++) {
    const o = (original[i] + 1) / 2;
    const r = (Math.min(Math.max(reconstruction[i], -1), 1) + 1) / 2;
    sum += (o - r) ** 2;
  }
  return -10 * Math.log10(sum / original.length);
}

describe('VAE training', () => {
  const root = mkdtempSync(join(tmpdir(), 'sd-vae-'));
  const full = join(root, 'full');

  it('the loss falls; the run directory holds config, checkpoint, metrics and a diffusers folder', async () => {
    // The reconstruction error on the whole training set, with the run's initial weights and after
    // training: one batch of 4 is too noisy a loss to compare alone.
    const initial = buildVae(TINY_VAE, SETTINGS.seed);
    const before = await evaluateReconstruction(initial, images);
    const result = await trainVae(images, TINY_VAE, SETTINGS, { outDir: full });
    const after = await evaluateReconstruction(result.vae, images);
    expect(after.mse).toBeLessThan(0.7 * before.mse);
    const l = metrics(full).map((m) => m.loss);
    expect(l.length).toBe(40);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(l.slice(30))).toBeLessThan(0.8 * mean(l.slice(0, 10)));
    for (const f of ['config.json', 'checkpoint.safetensors', 'metrics.jsonl', 'scaling.json', 'final/config.json']) expect(existsSync(join(full, f)), f).toBe(true);
    expect(readSafetensors(join(full, 'checkpoint.safetensors')).metadata.step).toBe('40');
    const saved = JSON.parse(readFileSync(join(full, 'final', 'config.json'), 'utf8'));
    expect(saved._class_name).toBe('AutoencoderKL');
    expect(saved.scaling_factor).toBe(result.scaling!.scalingFactor);
    expect(saved.scaling_factor).not.toBe(1);
  });

  it('killed after 20 steps and resumed, it reaches the same weights, metrics and scaling factor', async () => {
    const dir = join(root, 'resumed');
    const cut = await trainVae(images, TINY_VAE, SETTINGS, { outDir: dir, stopAfter: 20 });
    expect(cut.scaling).toBeNull();
    expect(existsSync(join(dir, 'final'))).toBe(false);
    // A kill lands between checkpoints: the metrics hold a later step and a half-written line.
    appendFileSync(join(dir, 'metrics.jsonl'), JSON.stringify({ step: 25, loss: 9 }) + '\n{"step": 3');
    await trainVae(images, TINY_VAE, SETTINGS, { outDir: dir, resume: true });
    expect(metrics(dir)).toEqual(metrics(full).map((m) => ({ ...m, itPerSec: expect.any(Number) })));
    expectSameTensors(join(full, 'checkpoint.safetensors'), join(dir, 'checkpoint.safetensors'));
    expectSameTensors(join(full, 'final', 'diffusion_pytorch_model.safetensors'), join(dir, 'final', 'diffusion_pytorch_model.safetensors'));
    expect(readFileSync(join(dir, 'final', 'config.json'), 'utf8')).toBe(readFileSync(join(full, 'final', 'config.json'), 'utf8'));
  });

  it('a fresh run refuses a directory that holds a run and changes nothing in it', async () => {
    const files = ['config.json', 'metrics.jsonl', 'checkpoint.safetensors'].map((f) => join(full, f));
    const before = files.map(sha256);
    await expect(trainVae(images, TINY_VAE, SETTINGS, { outDir: full })).rejects.toThrow(/full already holds a run \(.*\): continue it with --resume/);
    expect(files.map(sha256)).toEqual(before);
  });

  it('refuses to resume with other settings or other images, naming the difference', async () => {
    await expect(trainVae(images, TINY_VAE, { ...SETTINGS, klWeight: 1e-6 }, { outDir: full, resume: true }))
      .rejects.toThrow(/cannot resume with different settings:\n\s+train\.klWeight: checkpoint 0\.0001, requested 0\.000001/);
    const other = subsetImages(images, 0, 23);
    await expect(trainVae(other, TINY_VAE, SETTINGS, { outDir: full, resume: true })).rejects.toThrow(/data\.count: checkpoint 24, requested 23/);
  });

  it('scaling_factor is 1/std of the training latents, computed independently in float64', async () => {
    const vae = AutoencoderKL.fromPretrained(join(full, 'final'));
    // All images in one batch; the trainer measured them 16 at a time from the same "vae/scale" stream.
    const latents = tidy(() => noGrad(() => vae.encode(tensor(imageBatch(images, [...Array(images.count).keys()]), [images.count, 3, 32, 32])).sample(purposeGenerator(SETTINGS.seed, 'vae/scale'))).keep());
    const values = await latents.read();
    latents.dispose();
    expect(values.length).toBe(images.count * 4 * 8 * 8);
    expect(vae.scalingFactor).toBeCloseTo(1 / std64(values), 5);
    expect(Math.abs(vae.scalingFactor * std64(values) - 1)).toBeLessThan(1e-5);
  });

  it('psnr matches a float64 computation, clamps the reconstruction and knows a textbook value', () => {
    const rng = makeRng(7);
    const a = Float32Array.from({ length: 3 * 16 * 16 }, () => rng() * 2 - 1);
    const b = Float32Array.from(a, (v) => v + (rng() - 0.5) * 0.6); // some values leave [-1, 1]
    expect(Math.abs(psnr(a, b) - psnr64(a, b))).toBeLessThan(1e-9);
    // An error of 0.2 in [-1, 1] is 0.1 on [0, 1]: MSE 0.01, 20 dB.
    expect(psnr([0.5, -0.5, 0], [0.7, -0.7, 0.2])).toBeCloseTo(20, 9);
    expect(() => psnr([1], [1, 2])).toThrow(/sizes differ/);
  });

  it('evaluateReconstruction reports the mean per-image PSNR of the mode reconstructions', async () => {
    const vae = AutoencoderKL.fromPretrained(join(full, 'final'));
    const got = await evaluateReconstruction(vae, heldOut, { batchSize: 4 });
    const x = imageBatch(heldOut, [...Array(heldOut.count).keys()]);
    const decoded = tidy(() => noGrad(() => vae.decode(vae.encode(tensor(x, [heldOut.count, 3, 32, 32])).mode())).keep());
    const y = await decoded.read();
    decoded.dispose();
    const per = 3 * 32 * 32;
    const expected = Array.from({ length: heldOut.count }, (_, i) => psnr64(x.subarray(i * per, (i + 1) * per), y.subarray(i * per, (i + 1) * per)));
    expect(got.count).toBe(heldOut.count);
    expect(got.psnr).toBeCloseTo(expected.reduce((s, v) => s + v, 0) / expected.length, 3);
    expect(got.psnr).toBeGreaterThan(5);
  });

  it('imageBytes inverts imageBatch exactly, clamping what leaves [-1, 1]', () => {
    const rows = [...Array(images.count).keys()];
    expect(imageBytes(imageBatch(images, rows), images.count, 32)).toEqual(images.pixels);
    expect(Array.from(imageBytes(Float32Array.from([-3, 2, 0.5]), 1, 1))).toEqual([0, 255, 191]);
  });

  it('reconstructionZeroShot: the default CLIP on the originals and on the 8-bit reconstructions, image for image', async () => {
    const vae = AutoencoderKL.fromPretrained(join(full, 'final'));
    const clip = loadDefaultClip();
    const got = await reconstructionZeroShot(vae, clip, { count: 12, dataSeed: 3, evalSeed: 100 });
    // The same images made one by one, reconstructed and quantised here.
    const samples = Array.from({ length: 12 }, (_, i) => generateSample(100 + i, { seed: 3, split: 'heldout', objectCount: 1 }));
    const truth = samples.map((s) => s.attributes);
    const x = Float32Array.from(samples.flatMap((s) => Array.from({ length: 3 * 64 * 64 }, (_, k) => s.image[(k % 4096) * 3 + Math.floor(k / 4096)] / 127.5 - 1)));
    const decoded = tidy(() => noGrad(() => vae.decode(vae.encode(tensor(x, [12, 3, 64, 64])).mode())).keep());
    const bytes = imageBytes(await decoded.read(), 12, 64);
    decoded.dispose();
    const reconstructions = samples.map((_, i) => ({ data: bytes.subarray(i * 64 * 64 * 3, (i + 1) * 64 * 64 * 3), width: 64, height: 64 }));
    expect(got.original).toEqual((await zeroShotAccuracyOn(clip, samples.map((s) => ({ data: s.image, width: 64, height: 64 })), truth)).marginal);
    expect(got.reconstruction).toEqual((await zeroShotAccuracyOn(clip, reconstructions, truth)).marginal);
    expect(got.original.colour).toBeGreaterThanOrEqual(0.9); // the default CLIP: 100% over 500 such images
  });

  it('imageCropBatch is the window of imageBatch, and crop offsets cover every position that fits', () => {
    const rows = [3, 0, 17];
    const xs = [0, 12, 5];
    const ys = [7, 0, 16];
    const full = imageBatch(images, rows);
    const got = imageCropBatch(images, rows, xs, ys, 16);
    // The same windows cut from the whole-image batch, index by index.
    const expected = new Float32Array(rows.length * 3 * 16 * 16);
    for (let b = 0; b < rows.length; b++) for (let c = 0; c < 3; c++) for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) {
      expected[((b * 3 + c) * 16 + y) * 16 + x] = full[((b * 3 + c) * 32 + ys[b] + y) * 32 + xs[b] + x];
    }
    expect(got).toEqual(expected);
    expect(imageCropBatch(images, rows, [0, 0, 0], [0, 0, 0], 32)).toEqual(full);
    expect(() => imageCropBatch(images, [0], [20], [0], 16)).toThrow(/window 0 at \(20, 0\) of side 16 leaves the 32×32 image/);
    // Over many steps every corner position 0..16 is drawn, and none outside it.
    const seen = new Set<number>();
    for (let step = 0; step < 200; step++) {
      const { xs: x, ys: y } = vaeCropOffsets({ ...SETTINGS, crop: 16 }, step, 32);
      for (const v of [...x, ...y]) seen.add(v);
    }
    expect([...seen].sort((a, b) => a - b)).toEqual([...Array(17).keys()]);
  });

  it('with crops for half the steps and a cosine schedule: the lr follows the float64 formula, a kill and resume is bit-exact, and a resume with another crop is refused', async () => {
    // Steps 0–9 on 16-pixel windows, 10–19 on whole images; the kill at 9 lands just before the switch.
    const settings: VaeTrainSettings = { ...SETTINGS, steps: 20, crop: 16, cropShare: 0.5, schedule: 'cosine' };
    expect(vaeCropSteps(settings)).toBe(10);
    const whole = join(root, 'crop-whole');
    const cut = join(root, 'crop-cut');
    await trainVae(images, TINY_VAE, settings, { outDir: whole });
    // Warm-up over 4 steps, then lr·½(1 + cos(π·(s − 4)/(20 − 4))), written out here.
    const lrAt = (s: number) => (s < 4 ? (SETTINGS.lr * (s + 1)) / 4 : SETTINGS.lr * 0.5 * (1 + Math.cos((Math.PI * (s - 4)) / 16)));
    const logged = readFileSync(join(whole, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; lr: number });
    for (const m of logged) expect(m.lr, `lr at step ${m.step}`).toBeCloseTo(lrAt(m.step - 1), 12);
    expect(logged.at(-1)!.lr).toBeLessThan(0.02 * SETTINGS.lr);
    await trainVae(images, TINY_VAE, settings, { outDir: cut, stopAfter: 9 });
    await expect(trainVae(images, TINY_VAE, { ...settings, crop: 24 }, { outDir: cut, resume: true })).rejects.toThrow(/train\.crop: checkpoint 16, requested 24/);
    await expect(trainVae(images, TINY_VAE, { ...settings, cropShare: 0.6 }, { outDir: cut, resume: true })).rejects.toThrow(/train\.cropShare: checkpoint 0\.5, requested 0\.6/);
    await expect(trainVae(images, TINY_VAE, { ...settings, schedule: 'constant' }, { outDir: cut, resume: true })).rejects.toThrow(/train\.schedule: checkpoint "?cosine"?, requested "?constant"?/);
    await trainVae(images, TINY_VAE, settings, { outDir: cut, resume: true });
    expectSameTensors(join(whole, 'checkpoint.safetensors'), join(cut, 'checkpoint.safetensors'));
    // The whole-image half changed the weights differently from an all-crops run.
    const crops = join(root, 'crop-all');
    await trainVae(images, TINY_VAE, { ...settings, cropShare: 1 }, { outDir: crops });
    const a = readSafetensors(join(whole, 'checkpoint.safetensors')).tensors.get('model.decoder.conv_out.weight')!.data;
    const b = readSafetensors(join(crops, 'checkpoint.safetensors')).tensors.get('model.decoder.conv_out.weight')!.data;
    expect(Array.from(a)).not.toEqual(Array.from(b));
  });

  it('refuses a crop that does not fit or splits a latent pixel, before writing anything', async () => {
    for (const crop of [18, 40, 2, 16.5]) {
      const dir = join(root, `bad-crop-${crop}`);
      await expect(trainVae(images, TINY_VAE, { ...SETTINGS, crop }, { outDir: dir })).rejects.toThrow(new RegExp(`VAE crop ${crop}: must be a multiple of the VAE's downscale factor 4 between 4 and the images' side 32`));
      expect(existsSync(dir)).toBe(false);
    }
    await expect(trainVae(images, TINY_VAE, { ...SETTINGS, cropShare: 1.5 }, { outDir: join(root, 'bad-share') })).rejects.toThrow(/VAE cropShare 1\.5: must be in \[0, 1\]/);
    expect(existsSync(join(root, 'bad-share'))).toBe(false);
    await expect(trainVae(images, TINY_VAE, { ...SETTINGS, schedule: 'linear' as never }, { outDir: join(root, 'bad-schedule') })).rejects.toThrow(/VAE schedule "linear" is not one of constant, cosine/);
  });

  it('a diverging run stops with a message and keeps the last good checkpoint, byte for byte', async () => {
    const dir = join(root, 'diverge');
    const file = join(dir, 'checkpoint.safetensors');
    await trainVae(images, TINY_VAE, { ...SETTINGS, steps: 10 }, { outDir: dir });
    const good = sha256(file);
    // NaN in one weight after the update of step 13: the loss of step 14 is NaN.
    const corrupt = (step: number, vae: AutoencoderKL) => {
      if (step !== 13) return;
      const p = new Map(vae.namedParameters()).get('decoder.conv_out.bias')!;
      p.assign(DeviceArray.from(new Float32Array(p.size).fill(NaN), p.shape));
    };
    await expect(trainVae(images, TINY_VAE, { ...SETTINGS, steps: 20 }, { outDir: dir, resume: true, afterUpdate: corrupt }))
      .rejects.toThrow(/loss is NaN at step 14; the last good checkpoint is kept in .*checkpoint\.safetensors/);
    expect(sha256(file)).toBe(good);
    expect(existsSync(join(dir, 'final'))).toBe(true); // from the finished 10-step run, not replaced
  });
});
