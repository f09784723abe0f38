// Training the language-free decoder end to end on tiny models (a randomly initialised VAE, a tiny
// CLIP, a two-level UNet) and 32×32 procedural images: the loss falls on a fixed evaluation set, a
// killed and resumed run reaches the uninterrupted run's weights, EMA, metrics and sample grids bit
// for bit (and one given a learning-rate decay at its resume reaches a run that had it throughout),
// a stale latent cache, other settings and mismatched dimensions are refused with the names of
// what is wrong, a diverging run keeps its last good checkpoint, and the EMA follows
// min(cap, (1+s)/(10+s)) against a float64 reference.
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DeviceArray, releaseCaches } from '@sd/kernels';
import { loadCheckpoint, manualSeed, noGrad, optim, randn, tensor, tidy, Generator, type Tensor } from '@sd/autograd';
import { readSafetensors } from '@sd/io';
import {
  AutoencoderKL, CLIP, DDPMScheduler, DECODER_SCHEDULER_CONFIG, UNet2DConditionModel, decoderSchedulerConfig, buildDecoderUnet, decoderLoss, proceduralImages, subsetImages, timestepFeatureTable, trainDecoder,
  type DecoderInputs, type DecoderTrainSettings,
} from '@sd/models';
import { TINY_CLIP, TINY_UNET, TINY_VAE } from '../util/tiny-pipeline.ts';

const SETTINGS: DecoderTrainSettings = {
  steps: 30, batchSize: 4, lr: 3e-3, betas: [0.9, 0.999], weightDecay: 0.01, eps: 1e-8, maxGradNorm: 1, warmupSteps: 3, emaDecay: 0.9999,
  conditionDropout: 0.1, predictionType: 'epsilon', seed: 3, checkpointEvery: 10, logEvery: 1, sampleEvery: 15, sampleSteps: 3, sampleGuidance: 2,
};

function tinyVae(seed: number, config = TINY_VAE): AutoencoderKL {
  manualSeed(seed);
  const vae = new AutoencoderKL(config);
  vae.eval();
  return vae;
}
function tinyClip(seed: number, config = TINY_CLIP): CLIP {
  manualSeed(seed);
  const clip = new CLIP(config);
  clip.eval();
  return clip;
}

const train = proceduralImages(8, { seed: 1, split: 'train', resolution: 32 });
const heldOut = proceduralImages(3, { seed: 1, split: 'heldout', resolution: 32 });
// Built once the runtime is up (test/setup.ts initialises it in a beforeAll).
let inputs: DecoderInputs;
beforeAll(() => {
  inputs = { train, heldOut, vae: tinyVae(11), clip: tinyClip(12), vaeSource: 'tiny-vae', clipSource: 'tiny-clip.safetensors' };
});
// Five trainings in one file: each leaves pooled buffers and textures (each a memory mapping on lavapipe)
// of shapes the next may not reuse; without this the file alone nears the kernel's 65,530-map limit
// that test/setup.ts guards per file, and lavapipe crashes the process.
afterEach(() => {
  releaseCaches();
  (globalThis as { gc?: () => void }).gc?.();
});

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const metrics = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number });
function expectSameTensors(a: string, b: string): void {
  const x = readSafetensors(a).tensors;
  const y = readSafetensors(b).tensors;
  expect([...y.keys()]).toEqual([...x.keys()]);
  for (const [name, t] of x) expect(Array.from(y.get(name)!.data), name).toEqual(Array.from(t.data));
}

/** The loss on every cached training latent at five fixed timesteps, with fixed noise: comparable across weights. */
async function evaluationLoss(unet: UNet2DConditionModel & { forwardEmb: unknown }, dir: string): Promise<number> {
  const cache = readSafetensors(join(dir, 'latents.safetensors')).tensors;
  const latents = cache.get('latents')!;
  const embeddings = cache.get('embeddings')!;
  const n = latents.shape[0];
  const scheduler = new DDPMScheduler(DECODER_SCHEDULER_CONFIG);
  let total = 0;
  for (const t of [50, 250, 500, 750, 950]) {
    const l = tidy(() => noGrad(() => {
      const x0 = tensor(Float32Array.from(latents.data), latents.shape);
      const noise = randn(latents.shape, { generator: new Generator(99, t * 1_000_000) });
      return decoderLoss(unet as never, scheduler, x0, tensor(Float32Array.from(embeddings.data), embeddings.shape), noise, Array(n).fill(t)).keep();
    }));
    total += await l.item();
    l.dispose();
  }
  return total / 5;
}

describe('decoder training', () => {
  const root = mkdtempSync(join(tmpdir(), 'sd-decoder-'));
  const full = join(root, 'full');

  it('overfits a few images: the evaluation loss falls; the run directory holds everything', async () => {
    const result = await trainDecoder(inputs, TINY_UNET, SETTINGS, { outDir: full });
    const initial = buildDecoderUnet(TINY_UNET, SETTINGS.seed);
    const trained = buildDecoderUnet(TINY_UNET, SETTINGS.seed);
    trained.loadStateDict(loadCheckpoint(join(full, 'checkpoint.safetensors')).groups.model);
    const before = await evaluationLoss(initial, full);
    const after = await evaluationLoss(trained, full);
    expect(after).toBeLessThan(0.8 * before);
    expect(await evaluationLoss(result.unet, full)).toBeLessThan(before); // the EMA weights, loaded at the end
    for (const m of [initial, trained, result.unet]) m.dispose();
    expect(metrics(full).map((m) => m.step)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    for (const f of ['config.json', 'checkpoint.safetensors', 'latents.safetensors', 'metrics.jsonl', 'loss.png', 'final/config.json', 'final/diffusion_pytorch_model.safetensors', 'final/scheduler_config.json']) {
      expect(existsSync(join(full, f)), f).toBe(true);
    }
    // Every 15 steps, between checkpoints too (every 10).
    expect(readdirSync(join(full, 'samples'))).toEqual(['step-000015.png', 'step-000030.png']);
    // final/ is the EMA, as diffusers loads it.
    const final = UNet2DConditionModel.fromPretrained(join(full, 'final'));
    const ema = loadCheckpoint(join(full, 'checkpoint.safetensors')).groups.ema;
    for (const [name, t] of final.stateDict()) expect(Array.from(await t.read()), name).toEqual(Array.from(ema.get(name)!.data));
    final.dispose();
    expect(JSON.parse(readFileSync(join(full, 'final', 'scheduler_config.json'), 'utf8')).beta_schedule).toBe('scaled_linear');
  });

  it('killed between checkpoints and resumed, it reaches the same weights, EMA, optimizer, metrics and grids', async () => {
    const dir = join(root, 'resumed');
    const cut = await trainDecoder(inputs, TINY_UNET, SETTINGS, { outDir: dir, stopAfter: 13 });
    expect(cut.step).toBe(13);
    cut.unet.dispose();
    expect(existsSync(join(dir, 'final'))).toBe(false);
    appendFileSync(join(dir, 'metrics.jsonl'), JSON.stringify({ step: 17, loss: 9 }) + '\n{"step": 1');
    (await trainDecoder(inputs, TINY_UNET, SETTINGS, { outDir: dir, resume: true })).unet.dispose();
    expect(metrics(dir)).toEqual(metrics(full).map((m) => ({ ...m, itPerSec: expect.any(Number) })));
    expectSameTensors(join(full, 'checkpoint.safetensors'), join(dir, 'checkpoint.safetensors'));
    expectSameTensors(join(full, 'final', 'diffusion_pytorch_model.safetensors'), join(dir, 'final', 'diffusion_pytorch_model.safetensors'));
    for (const png of ['step-000015.png', 'step-000030.png']) expect(sha256(join(dir, 'samples', png)), png).toBe(sha256(join(full, 'samples', png)));
  });

  it('a learning-rate decay set at a resume, from the checkpoint on, gives the bits of a run that had it from the start; one that would change steps taken is refused', async () => {
    const constant = join(root, 'constant-then-decay');
    const decayed = join(root, 'decayed');
    const withDecay = { ...SETTINGS, decaySteps: 10 };
    (await trainDecoder(inputs, TINY_UNET, { ...SETTINGS, steps: 20 }, { outDir: constant })).unet.dispose();
    // Steps 0..19 ran at the constant rate in both: a decay over 20..29 may be added.
    (await trainDecoder(inputs, TINY_UNET, withDecay, { outDir: constant, resume: true })).unet.dispose();
    (await trainDecoder(inputs, TINY_UNET, withDecay, { outDir: decayed })).unet.dispose();
    expectSameTensors(join(decayed, 'checkpoint.safetensors'), join(constant, 'checkpoint.safetensors'));
    const lrs = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).lr as number);
    expect(lrs(constant)).toEqual(lrs(decayed));
    expect(lrs(decayed).at(-1)).toBeLessThan(0.2 * SETTINGS.lr);
    expect(metrics(decayed).map((m) => m.loss)).not.toEqual(metrics(full).map((m) => m.loss));
    await expect(trainDecoder(inputs, TINY_UNET, { ...SETTINGS, steps: 40, decaySteps: 10 }, { outDir: decayed, resume: true }))
      .rejects.toThrow(/learning-rate decay began at step 20, before its checkpoint's step 30; it can only be resumed with the same --steps 30 and --decay-steps 10/);
    // Leaving the decay out at a resume, or asking for fewer steps than the checkpoint's, is refused.
    await expect(trainDecoder(inputs, TINY_UNET, SETTINGS, { outDir: decayed, resume: true }))
      .rejects.toThrow(/decays its learning rate over its last 10 steps; resume with --decay-steps 10/);
    await expect(trainDecoder(inputs, TINY_UNET, { ...SETTINGS, steps: 20 }, { outDir: constant, resume: true }))
      .rejects.toThrow(/the checkpoint is at step 30, past --steps 20; resume with --steps 30 or more/);
    const early = join(root, 'early-decay');
    cpSync(join(root, 'resumed'), early, { recursive: true });
    await expect(trainDecoder(inputs, TINY_UNET, { ...SETTINGS, steps: 40, decaySteps: 15 }, { outDir: early, resume: true }))
      .rejects.toThrow(/--steps 40 with --decay-steps 15 would start the decay at step 25, before the checkpoint's step 30/);
  });

  it('recorded steps (the default) give the bits of eager steps: weights, EMA, optimizer, metrics and grids', async () => {
    const dir = join(root, 'eager');
    (await trainDecoder(inputs, TINY_UNET, SETTINGS, { outDir: dir, record: false })).unet.dispose();
    expect(metrics(dir)).toEqual(metrics(full).map((m) => ({ ...m, itPerSec: expect.any(Number) })));
    expectSameTensors(join(full, 'checkpoint.safetensors'), join(dir, 'checkpoint.safetensors'));
    for (const png of ['step-000015.png', 'step-000030.png']) expect(sha256(join(dir, 'samples', png)), png).toBe(sha256(join(full, 'samples', png)));
  });

  it.each(['epsilon', 'v_prediction'] as const)('the %s loss from device timesteps (ids and the feature table, as recorded steps use) has the bits of the loss from host timesteps', async (prediction) => {
    const unet = buildDecoderUnet(TINY_UNET, 5);
    const scheduler = new DDPMScheduler(decoderSchedulerConfig(prediction));
    const t = [0, 17, 503, 999];
    const [host, device] = tidy(() => noGrad(() => {
      const x0 = randn([4, 4, 8, 8], { generator: new Generator(1) });
      const noise = randn([4, 4, 8, 8], { generator: new Generator(2) });
      const condition = randn([4, unet.config.input_dim as number], { generator: new Generator(3) });
      const table = timestepFeatureTable(unet.config, 1000);
      const ids = tensor(t, [4], { dtype: 'i32' });
      return [decoderLoss(unet, scheduler, x0, condition, noise, t).keep(), decoderLoss(unet, scheduler, x0, condition, noise, { ids, table }).keep()];
    }));
    expect(Array.from(new Uint32Array((await device.read()).buffer))).toEqual(Array.from(new Uint32Array((await host.read()).buffer)));
    host.dispose();
    device.dispose();
    unet.dispose();
  });

  it('the v_prediction loss is the mean squared error against v = √ᾱ·ε − √(1−ᾱ)·x₀ (float64 on the host)', async () => {
    const unet = buildDecoderUnet(TINY_UNET, 6);
    const scheduler = new DDPMScheduler(decoderSchedulerConfig('v_prediction'));
    const t = [3, 250, 640, 998];
    const shape = [4, 4, 8, 8];
    const [x0, noise, condition] = [1, 2, 3].map((g, i) => randn(i < 2 ? shape : [4, unet.config.input_dim as number], { generator: new Generator(g) }).keep());
    const [loss, output] = tidy(() => noGrad(() => {
      const prediction = unet.forwardEmb({ sample: scheduler.addNoise(x0, noise, t), timestep: t, imageEmbedding: condition });
      return [decoderLoss(unet, scheduler, x0, condition, noise, t).keep(), prediction.keep()];
    }));
    const [x, e, p] = [await x0.read(), await noise.read(), await output.read()];
    const per = x.length / 4;
    let sum = 0;
    for (let i = 0; i < x.length; i++) {
      const ab = scheduler.alphasCumprod[t[Math.floor(i / per)]];
      const v = Math.sqrt(ab) * e[i] - Math.sqrt(1 - ab) * x[i];
      sum += (p[i] - v) ** 2;
    }
    expect(await loss.item()).toBeCloseTo(sum / x.length, 6);
    for (const z of [x0, noise, condition, loss, output]) z.dispose();
    unet.dispose();
  });

  it('refuses a stale latent cache, naming what changed, and changes nothing', async () => {
    const dir = join(root, 'stale');
    cpSync(full, dir, { recursive: true });
    const files = ['config.json', 'metrics.jsonl', 'checkpoint.safetensors', 'latents.safetensors'].map((f) => join(dir, f));
    const before = files.map(sha256);
    const more = { ...SETTINGS, steps: 40 };
    await expect(trainDecoder({ ...inputs, vae: tinyVae(21) }, TINY_UNET, more, { outDir: dir, resume: true }))
      .rejects.toThrow(/latents\.safetensors: stale latent cache.*\n\s+the VAE \(weights or config, incl\. scaling_factor\) changed \(cache sha256 [0-9a-f]{64}, now [0-9a-f]{64}\)/);
    const rescaled = tinyVae(11);
    rescaled.setScalingFactor(0.5);
    await expect(trainDecoder({ ...inputs, vae: rescaled }, TINY_UNET, more, { outDir: dir, resume: true })).rejects.toThrow(/the VAE \(weights or config/);
    await expect(trainDecoder({ ...inputs, clip: tinyClip(22) }, TINY_UNET, more, { outDir: dir, resume: true })).rejects.toThrow(/stale latent cache.*\n\s+the CLIP \(its weights; a MultiCLIP's models or normalisation\) changed/);
    await expect(trainDecoder({ ...inputs, train: subsetImages(train, 0, 7) }, TINY_UNET, more, { outDir: dir, resume: true })).rejects.toThrow(/\n\s+the training or held-out images changed/);
    expect(files.map(sha256)).toEqual(before);
    // A fresh run in a used directory is refused too (as the other trainers).
    await expect(trainDecoder(inputs, TINY_UNET, SETTINGS, { outDir: dir })).rejects.toThrow(/already holds a run .*continue it with --resume/);
  });

  it('refuses to resume with other settings (not other paths of the same VAE and CLIP); a diverging run stops and keeps the last good checkpoint, byte for byte', async () => {
    const dir = join(root, 'stale'); // the finished 30-step run, copied above
    await expect(trainDecoder(inputs, TINY_UNET, { ...SETTINGS, conditionDropout: 0.2 }, { outDir: dir, resume: true }))
      .rejects.toThrow(/cannot resume with different settings:\n\s+train\.conditionDropout: checkpoint 0\.1, requested 0\.2/);
    const file = join(dir, 'checkpoint.safetensors');
    const good = sha256(file);
    // The same VAE and CLIP from other paths: a finished run resumes (nothing to do) and changes no weight.
    (await trainDecoder({ ...inputs, vaeSource: 'moved/vae', clipSource: 'moved/clip.safetensors' }, TINY_UNET, SETTINGS, { outDir: dir, resume: true })).unet.dispose();
    expect(sha256(file)).toBe(good);
    // NaN in one weight after the update of step 33: the loss of step 34 is NaN.
    const corrupt = (step: number, unet: UNet2DConditionModel) => {
      if (step !== 33) return;
      const p = new Map(unet.namedParameters()).get('conv_out.bias')!;
      p.write(new Float32Array(p.size).fill(NaN)); // in place: the recorded step keeps using this buffer
    };
    await expect(trainDecoder(inputs, TINY_UNET, { ...SETTINGS, steps: 40 }, { outDir: dir, resume: true, afterUpdate: corrupt }))
      .rejects.toThrow(/loss is NaN at step 34; the last good checkpoint is kept in .*checkpoint\.safetensors/);
    expect(sha256(file)).toBe(good);
  });

  it('names the keys and dimensions of a VAE, CLIP or image size that does not fit the UNet, before writing anything', async () => {
    const out = join(root, 'never');
    const wide = tinyVae(1, { ...TINY_VAE, latent_channels: 8 });
    await expect(trainDecoder({ ...inputs, vae: wide, vaeSource: 'vae-8ch' }, TINY_UNET, SETTINGS, { outDir: out }))
      .rejects.toThrow("vae-8ch: the VAE's latent_channels is 8, but the decoder UNet config has in_channels 4 and out_channels 4; they must all agree");
    const narrow = tinyClip(1, { ...TINY_CLIP, embedDim: 8 });
    await expect(trainDecoder({ ...inputs, clip: narrow, clipSource: 'clip-8.safetensors' }, TINY_UNET, SETTINGS, { outDir: out }))
      .rejects.toThrow("clip-8.safetensors: the CLIP's image embeddings are 8-d, but the decoder UNet config has input_dim 16; they must agree");
    const odd = proceduralImages(2, { seed: 1, split: 'train', resolution: 32 });
    await expect(trainDecoder({ ...inputs, train: { ...odd, side: 12, pixels: odd.pixels.subarray(0, 2 * 12 * 12 * 3) } }, TINY_UNET, SETTINGS, { outDir: out }))
      .rejects.toThrow(/decoder UNet config: 3×3 latents \(12-pixel images \/ the VAE's downscale 4\) are not divisible by the UNet's downscale 2/);
    expect(existsSync(out)).toBe(false);
  });

  it('keeps the EMA of the weights with decay min(cap, (1+s)/(10+s)), as a float64 reference computes it', async () => {
    const cap = 0.3; // reached at s = 3, so both branches of the min are exercised in 6 steps
    const settings = { ...SETTINGS, steps: 6, emaDecay: cap, sampleEvery: 0, checkpointEvery: 6 };
    const snapshots: Tensor[][] = [];
    const run = await trainDecoder(inputs, TINY_UNET, settings, {
      outDir: join(root, 'ema'),
      afterUpdate: (_, unet) => snapshots.push(noGrad(() => unet.parameters().map((p) => p.mul(1).keep()))),
    });
    const initial = buildDecoderUnet(TINY_UNET, settings.seed);
    const names = [...initial.namedParameters()].map(([n]) => n);
    const shadow: Float64Array[] = [];
    for (const p of initial.parameters()) shadow.push(Float64Array.from(await p.read()));
    for (let k = 1; k <= snapshots.length; k++) {
      const s = k - 1; // diffusers' EMAModel: optimization_step − 1; the first update copies the weights
      const decay = s <= 0 ? 0 : Math.min(cap, (1 + s) / (10 + s));
      for (let i = 0; i < shadow.length; i++) {
        const w = await snapshots[k - 1][i].read();
        for (let j = 0; j < w.length; j++) shadow[i][j] = decay * shadow[i][j] + (1 - decay) * w[j];
      }
    }
    const ema = loadCheckpoint(join(root, 'ema', 'checkpoint.safetensors')).groups.ema;
    let worst = 0;
    names.forEach((name, i) => {
      const got = ema.get(name)!.data;
      for (let j = 0; j < got.length; j++) worst = Math.max(worst, Math.abs(got[j] - shadow[i][j]) / (1e-3 + Math.abs(shadow[i][j])));
    });
    expect(worst).toBeLessThan(1e-5);
    for (const list of snapshots) for (const t of list) t.dispose();
    run.unet.dispose();
    initial.dispose();
    // The default cap, 0.9999, through the same EMA the trainer builds.
    const defaults = new optim.EMA([], { decay: 0.9999 });
    for (const step of [1, 2, 3, 11, 100, 10_000, 89_990, 200_000]) {
      const s = step - 1;
      expect(defaults.decay(step)).toBeCloseTo(s <= 0 ? 0 : Math.min(0.9999, (1 + s) / (10 + s)), 15);
    }
  });
});
