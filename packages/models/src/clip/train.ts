// Training a CLIP on the procedural captioned images: symmetric InfoNCE, AdamW with warmup + cosine,
// atomic checkpoints and exact resumption (every batch is a pure function of seed and step).
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, minimum, noGrad, optim, saveCheckpoint, tensor, tidy, type Tensor } from '@sd/autograd';
import { contrastGroup, generateSample, ZERO_SHOT_ATTRIBUTES, type Split, type ZeroShotAttribute } from '../data/index.ts';
import { stepRng } from '../training/rng.ts';
import { truncateMetrics } from '../training/metrics.ts';
import { assertFreshRunDir } from '../training/run-dir.ts';
import { assertResumable, configDifferences, parametersFinite } from '../training/guards.ts';
import { tokenize } from './tokenizer.ts';
import type { ContrastiveModel } from './contrastive.ts';
import { clipLoss, MAX_LOGIT_SCALE } from './loss.ts';
import { preprocessBatch } from './preprocess-batch.ts';

export interface ClipTrainSettings {
  steps: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  warmupSteps: number;
  seed: number;
  /** Seed of the procedural dataset (which images exist). */
  dataSeed: number;
  logEvery: number;
  checkpointEvery: number;
  /**
   * Fraction of each batch made of contrast groups (scenes differing in one attribute, see
   * `contrastGroup`); the rest are random training samples. Default 0: plain random batches.
   */
  contrastFraction?: number;
  /** Largest contrast group (default 8). */
  contrastGroupSize?: number;
  /** The attributes groups vary, taken in turn (repeat one to weight it); default all four. */
  contrastAttributes?: readonly ZeroShotAttribute[];
}

export interface ClipStepReport {
  step: number;
  loss: number;
  lr: number;
  itPerSec: number;
  logitScale: number;
}

/**
 * The batch of one step (a pure function of settings and step): contrast groups first, each on an
 * attribute taken in turn from a random start, then random training samples with one caption each.
 */
export function clipBatch(s: ClipTrainSettings, step: number, resolution: number, contextLength: number) {
  const fraction = s.contrastFraction ?? 0;
  if (!(fraction >= 0 && fraction <= 1)) throw new Error(`clipBatch: contrastFraction must be in [0, 1], got ${fraction}`);
  const pick = stepRng(s.seed, step, 11);
  const groupRng = stepRng(s.seed, step, 12);
  const images: { data: Uint8Array; width: number; height: number }[] = [];
  const captions: string[] = [];
  const add = (sample: { image: Uint8Array; width: number; height: number; captions: string[] }, rng: () => number) => {
    images.push({ data: sample.image, width: sample.width, height: sample.height });
    captions.push(sample.captions[Math.floor(rng() * sample.captions.length)]);
  };
  const cycle = s.contrastAttributes ?? ZERO_SHOT_ATTRIBUTES;
  const unknown = cycle.filter((a) => !ZERO_SHOT_ATTRIBUTES.includes(a));
  if (cycle.length === 0 || unknown.length) throw new Error(`clipBatch: contrastAttributes must be some of ${ZERO_SHOT_ATTRIBUTES.join(', ')}; got [${cycle.join(', ')}]`);
  const grouped = Math.round(s.batchSize * fraction);
  let attribute = Math.floor(groupRng() * cycle.length);
  while (images.length < grouped) {
    const group = contrastGroup(groupRng, cycle[attribute++ % cycle.length], Math.min(s.contrastGroupSize ?? 8, grouped - images.length));
    for (const sample of group) add(sample, groupRng);
  }
  while (images.length < s.batchSize) {
    const index = Math.floor(pick() * 2 ** 31);
    add(generateSample(index, { seed: s.dataSeed, split: 'train' as Split }), pick);
  }
  return { pixels: preprocessBatch(images, resolution), ids: tokenize(captions, contextLength).ids };
}

export interface ClipTrainOptions {
  outDir: string;
  resume?: boolean;
  onStep?: (r: ClipStepReport) => void;
  /** The model's config, recorded with the checkpoint (and compared on resume). */
  config?: unknown;
  /** Called after each optimizer update with the step just completed (tests corrupt a parameter with it). */
  afterUpdate?: (step: number, model: ContrastiveModel) => void;
}

/**
 * A resume must continue the same run: the recorded settings and model config must equal the
 * requested ones. Unlike the prior, `steps` is compared too: the cosine schedule spans all steps,
 * so another total would change the learning rate of every remaining step.
 */
function checkResumable(metadata: Record<string, string>, settings: ClipTrainSettings, config: unknown, ckptPath: string): void {
  if (metadata.settings === undefined) {
    throw new Error(`${ckptPath}: the checkpoint records no training settings (written before resumes were checked), so a resume cannot be verified; start a fresh run in another --out`);
  }
  const saved = { settings: JSON.parse(metadata.settings) as unknown, model: JSON.parse(metadata.config ?? 'null') as unknown };
  const diffs = configDifferences(saved, JSON.parse(JSON.stringify({ settings, model: config ?? null })));
  assertResumable(ckptPath, diffs);
}

export async function trainClip(model: ContrastiveModel, settings: ClipTrainSettings, options: ClipTrainOptions): Promise<{ step: number; lastLoss: number }> {
  if (!options.resume) assertFreshRunDir(options.outDir);
  mkdirSync(options.outDir, { recursive: true });
  const ckptPath = join(options.outDir, 'checkpoint.safetensors');
  const metricsPath = join(options.outDir, 'metrics.jsonl');
  const params = model.parameters();
  const opt = new optim.AdamW(params, { lr: settings.lr, betas: [0.9, 0.98], eps: 1e-6, weightDecay: settings.weightDecay });
  opt.schedule = optim.warmupCosine(settings.warmupSteps, settings.steps, 0.02);
  let step = 0;
  if (options.resume && existsSync(ckptPath)) {
    const ckpt = loadCheckpoint(ckptPath);
    checkResumable(ckpt.metadata, settings, options.config, ckptPath);
    model.loadStateDict(ckpt.groups.model, { source: ckptPath });
    opt.loadStateDict(ckpt.groups.optim);
    step = Number(ckpt.metadata.step);
    truncateMetrics(metricsPath, step);
  } else writeFileSync(metricsPath, '');
  writeFileSync(join(options.outDir, 'config.json'), JSON.stringify({ settings, model: options.config ?? null }, null, 2));
  model.train();

  let lastLoss = NaN;
  let timer = performance.now();
  let timed = 0;
  while (step < settings.steps) {
    const { pixels, ids } = clipBatch(settings, step, model.imageResolution, model.contextLength);
    const lr = opt.currentLr();
    const loss = tidy(() => {
      const b = settings.batchSize;
      const img = model.encodeImage(tensor(pixels, [b, 3, model.imageResolution, model.imageResolution]));
      const txt = model.encodeText(tensor(ids, [b, model.contextLength], { dtype: 'i32' }));
      const l = clipLoss(img, txt, model.logitScale);
      l.backward();
      opt.update({ maxGradNorm: 1 });
      opt.zeroGrad();
      // OpenAI clamps the temperature parameter at ln(100) after every step.
      const clamped = noGrad(() => minimum(model.logitScale, Math.log(MAX_LOGIT_SCALE)));
      model.logitScale.assign(clamped.data.reshape(model.logitScale.shape));
      return l.detach();
    });
    step++;
    timed++;
    options.afterUpdate?.(step, model);
    const checkpointNow = step % settings.checkpointEvery === 0 || step === settings.steps;
    if (step % settings.logEvery === 0 || checkpointNow) {
      lastLoss = await loss.item();
      if (!Number.isFinite(lastLoss)) throw new Error(`CLIP training diverged: loss ${lastLoss} at step ${step}; last good checkpoint: ${ckptPath}`);
      const now = performance.now();
      const report = { step, loss: lastLoss, lr, itPerSec: (timed * 1000) / (now - timer), logitScale: Math.exp((await model.logitScale.read())[0]) };
      timer = now;
      timed = 0;
      appendFileSync(metricsPath, JSON.stringify(report) + '\n');
      options.onStep?.(report);
    }
    loss.dispose();
    if (checkpointNow) {
      if (!(await parametersFinite(params))) {
        throw new Error(`CLIP training diverged: parameters became NaN/Inf by step ${step}; last good checkpoint: ${ckptPath}`);
      }
      const metadata = { step: String(step), config: JSON.stringify(options.config ?? null), settings: JSON.stringify(settings) };
      await saveCheckpoint(ckptPath, { model: model.stateDict(), optim: opt.stateDict() }, metadata);
    }
  }
  model.eval();
  return { step, lastLoss };
}
