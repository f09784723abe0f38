// Training the prior end to end on a tiny synthetic set: the loss falls, a killed-and-resumed run
// reaches the same weights, divergence stops with the last good checkpoint kept, and sampling works.
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readSafetensors } from '@sd/io';
import { DeviceArray } from '@sd/kernels';
import { PriorTraining, ShiftedDiffusionPrior, disposePrior, loadPrior, priorRunConfig, shiftStatsFor, type ClipPrior, trainPrior, type EmbeddingPairs, type PriorConfig, type TrainSettings } from '@sd/models';
import { makeRng, normal } from '../util/random.ts';

const MODEL: PriorConfig = { embedDim: 8, width: 32, layers: 1, heads: 2, ffMult: 2, textTokenDim: 0, clusters: 2, useClusterToken: true, timesteps: 1000 };

/** Image embeddings = a fixed linear map of the text embedding plus a little noise, two clusters. */
function syntheticPairs(n: number, seed: number): EmbeddingPairs {
  const rng = makeRng(seed);
  const dim = 8;
  const text = normal(rng, n * dim);
  const noise = normal(rng, n * dim, 0.05);
  const image = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const offset = text[i * dim] > 0 ? 2 : -2;
    for (let d = 0; d < dim; d++) image[i * dim + d] = 0.5 * text[i * dim + ((d + 1) % dim)] + offset + noise[i * dim + d];
  }
  return { image, text, count: n, dim, source: 'synthetic' };
}

const SETTINGS: TrainSettings = {
  steps: 60, batchSize: 16, lr: 3e-3, betas: [0.9, 0.96], weightDecay: 0.06, eps: 1e-6, maxGradNorm: 1, warmupSteps: 5,
  clusters: 2, stdScale: 1, dropText: 0.1, seed: 3, baseline: false, emaDecay: 0, checkpointEvery: 10, logEvery: 5,
};

function metrics(dir: string): { step: number; loss: number }[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

function losses(dir: string): number[] {
  return metrics(dir).map((m) => m.loss);
}

describe('prior training', () => {
  const pairs = syntheticPairs(96, 1);
  const root = mkdtempSync(join(tmpdir(), 'sd-prior-'));

  it('the loss falls and the run directory holds config, checkpoint and metrics', async () => {
    const dir = join(root, 'full');
    await trainPrior(pairs, MODEL, SETTINGS, { outDir: dir });
    const l = losses(dir);
    expect(l.length).toBe(12);
    const first = (l[0] + l[1]) / 2;
    const last = (l[l.length - 2] + l[l.length - 1]) / 2;
    expect(last).toBeLessThan(0.5 * first);
    for (const f of ['config.json', 'checkpoint.safetensors', 'metrics.jsonl']) expect(existsSync(join(dir, f))).toBe(true);
    const ckpt = readSafetensors(join(dir, 'checkpoint.safetensors'));
    expect(ckpt.metadata.step).toBe('60');
    expect([...ckpt.tensors.keys()].some((k) => k.startsWith('optim.'))).toBe(true);
    expect(ckpt.tensors.get('shift.mean')!.shape).toEqual([2, 8]);
  });

  it('killed after 30 steps and resumed, it reaches the same weights as the uninterrupted run', async () => {
    const dir = join(root, 'resumed');
    await trainPrior(pairs, MODEL, SETTINGS, { outDir: dir, stopAfter: 30 });
    expect(readSafetensors(join(dir, 'checkpoint.safetensors')).metadata.step).toBe('30');
    // A real kill lands between checkpoints: the metrics already hold steps the checkpoint does not.
    appendFileSync(join(dir, 'metrics.jsonl'), JSON.stringify({ step: 35, loss: 9 }) + '\n' + '{"step": 4');
    await trainPrior(pairs, MODEL, SETTINGS, { outDir: dir, resume: true });
    // Cut back to the checkpoint's step on resume: every step once, the same values as uninterrupted.
    expect(metrics(dir).map((m) => [m.step, m.loss])).toEqual(metrics(join(root, 'full')).map((m) => [m.step, m.loss]));
    const a = readSafetensors(join(root, 'full', 'checkpoint.safetensors')).tensors;
    const b = readSafetensors(join(dir, 'checkpoint.safetensors')).tensors;
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, t] of a) expect(Array.from(b.get(name)!.data), name).toEqual(Array.from(t.data));
  });

  it('with EMA on, killed after 30 steps and resumed, it reaches the same weights and averages bit for bit', async () => {
    const ema = { ...SETTINGS, emaDecay: 0.9 };
    await trainPrior(pairs, MODEL, ema, { outDir: join(root, 'ema-full') });
    const dir = join(root, 'ema-resumed');
    await trainPrior(pairs, MODEL, ema, { outDir: dir, stopAfter: 30 });
    await trainPrior(pairs, MODEL, ema, { outDir: dir, resume: true });
    const a = readSafetensors(join(root, 'ema-full', 'checkpoint.safetensors')).tensors;
    const b = readSafetensors(join(dir, 'checkpoint.safetensors')).tensors;
    const averages = [...a.keys()].filter((k) => k.startsWith('ema.'));
    expect(averages.length).toBe([...a.keys()].filter((k) => k.startsWith('model.')).length);
    // The averages are not the weights (EMA really ran), and both match the uninterrupted run exactly.
    expect(Array.from(a.get('ema.head.2.weight')!.data)).not.toEqual(Array.from(a.get('model.head.2.weight')!.data));
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, t] of a) expect(Array.from(b.get(name)!.data), name).toEqual(Array.from(t.data));
  });

  it('recorded steps (the default) give the bits of eager steps: checkpoint, EMA and metrics', async () => {
    const ema = { ...SETTINGS, emaDecay: 0.9 };
    const dir = join(root, 'ema-eager');
    await trainPrior(pairs, MODEL, ema, { outDir: dir, record: false });
    expect(metrics(dir)).toEqual(metrics(join(root, 'ema-full')).map((m) => ({ ...m, itPerSec: expect.any(Number) })));
    const a = readSafetensors(join(root, 'ema-full', 'checkpoint.safetensors')).tensors;
    const b = readSafetensors(join(dir, 'checkpoint.safetensors')).tensors;
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, t] of a) expect(Array.from(b.get(name)!.data), name).toEqual(Array.from(t.data));
  });

  it('PriorTraining, without a run directory (as a page runs it), takes the same steps: the losses and weights of trainPrior', async () => {
    const training = new PriorTraining(pairs, priorRunConfig(pairs, MODEL, SETTINGS), shiftStatsFor(pairs, SETTINGS));
    const logged: { step: number; loss: number }[] = [];
    for (let step = 0; step < SETTINGS.steps; step++) {
      const loss = training.step(step);
      if ((step + 1) % SETTINGS.logEvery === 0) logged.push({ step: step + 1, loss: (await loss.read())[0] });
      loss.dispose();
    }
    const bundle = training.finish();
    expect(logged).toEqual(metrics(join(root, 'full')).map(({ step, loss }) => ({ step, loss })));
    const saved = readSafetensors(join(root, 'full', 'checkpoint.safetensors')).tensors;
    for (const [name, p] of bundle.model.namedParameters()) expect(Array.from(await p.read()), name).toEqual(Array.from(saved.get(`model.${name}`)!.data));
    disposePrior(bundle);
  });

  it("lossWeight 'uniform' reaches the loss: the same first step weighs every timestep 1, so its loss is the larger", async () => {
    const first = async (settings: TrainSettings) => {
      const training = new PriorTraining(pairs, priorRunConfig(pairs, MODEL, settings), shiftStatsFor(pairs, settings));
      const loss = training.step(0);
      const value = (await loss.read())[0];
      loss.dispose();
      training.dispose();
      return value;
    };
    const weighted = await first(SETTINGS);
    const uniform = await first({ ...SETTINGS, lossWeight: 'uniform' });
    // (1−ᾱ_t) < 1 for every t, and the batch, noise and initial weights are the same.
    expect(uniform).toBeGreaterThan(weighted * 1.05);
  });

  it('a fresh run refuses a directory that holds a run and changes nothing in it', async () => {
    const dir = join(root, 'full');
    const files = ['config.json', 'metrics.jsonl', 'checkpoint.safetensors'];
    const before = files.map((f) => sha256(join(dir, f)));
    await expect(trainPrior(pairs, MODEL, { ...SETTINGS, stdScale: 2 }, { outDir: dir })).rejects.toThrow(/full already holds a run \(.*checkpoint\.safetensors.*\): continue it with --resume, or start the new run in another --out directory/);
    expect(files.map((f) => sha256(join(dir, f)))).toEqual(before);
    // An empty directory is fine (the CLI creates the parent before training).
    const empty = join(root, 'empty');
    mkdirSync(empty);
    await trainPrior(pairs, MODEL, { ...SETTINGS, steps: 5 }, { outDir: empty });
    expect(existsSync(join(empty, 'checkpoint.safetensors'))).toBe(true);
  });

  it('refuses to resume with different settings, naming them', async () => {
    const dir = join(root, 'full');
    await expect(trainPrior(pairs, MODEL, { ...SETTINGS, stdScale: 2 }, { outDir: dir, resume: true })).rejects.toThrow(/cannot resume with different settings:\n\s+train.stdScale: checkpoint 1, requested 2/);
  });

  it('refuses to resume on changed data, naming the data and both fingerprints', async () => {
    const dir = join(root, 'full');
    const text = pairs.text.slice();
    text[5] += 1e-3; // same path, same row count, one value changed
    await expect(trainPrior({ ...pairs, text }, MODEL, SETTINGS, { outDir: dir, resume: true }))
      .rejects.toThrow(/cannot resume with different settings:\n\s+data: the training rows of synthetic \(96 × 8\) have sha256 [0-9a-f]{64}; the checkpoint was trained on rows with sha256 [0-9a-f]{64}/);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).data.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a diverging run stops with a message and keeps the last good checkpoint, byte for byte', async () => {
    const dir = join(root, 'diverge');
    const file = join(dir, 'checkpoint.safetensors');
    await trainPrior(pairs, MODEL, { ...SETTINGS, steps: 10 }, { outDir: dir });
    const good = sha256(file);
    // NaN written into one parameter right after the update of step `at`.
    const corruptAt = (at: number) => (step: number, model: ClipPrior) => {
      if (step !== at) return;
      const p = new Map(model.namedParameters()).get('head.2.bias')!;
      p.write(new Float32Array(p.size).fill(NaN)); // in place: the recorded step keeps using this buffer
    };
    // The parameter guard: step 20 is a checkpoint step whose loss was computed before the update,
    // so the loss is finite and only the parameter check can stop the save.
    await expect(trainPrior(pairs, MODEL, { ...SETTINGS, steps: 30 }, { outDir: dir, resume: true, afterUpdate: corruptAt(20) }))
      .rejects.toThrow(/parameters became NaN\/Inf by step 20; the last good checkpoint is kept/);
    expect(sha256(file)).toBe(good);
    // The loss guard: corrupted at step 13, the loss logged at step 15 is NaN.
    await expect(trainPrior(pairs, MODEL, { ...SETTINGS, steps: 30 }, { outDir: dir, resume: true, afterUpdate: corruptAt(13) }))
      .rejects.toThrow(/loss is NaN at step 15; the last good checkpoint is kept/);
    expect(sha256(file)).toBe(good);
    expect(readSafetensors(file).metadata.step).toBe('10');
  });

  it('the library loads the run and generates deterministic embeddings near the data', async () => {
    const prior = await ShiftedDiffusionPrior.load(join(root, 'full'));
    expect(prior.dim).toBe(8);
    const text = pairs.text.slice(0, 4 * 8);
    const a = await prior.generate(text, { steps: 8, seed: 1 });
    const b = await prior.generate(text, { steps: 8, seed: 1 });
    const c = await prior.generate(text, { steps: 8, seed: 2, guidance: 2 });
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    expect(a.every(Number.isFinite)).toBe(true);
    await expect(prior.generate(['a red circle'])).rejects.toThrow(/without a text encoder/);
    expect(() => loadPrior(join(root, 'nothing-here'))).toThrow(/no prior checkpoint/);
  });
});
