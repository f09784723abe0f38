// Training a CLIP on the procedural captioned images: symmetric InfoNCE, AdamW with warmup + cosine,
// atomic checkpoints and exact resumption (every batch is a pure function of seed and step).
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, minimum, noGrad, optim, saveCheckpoint, tensor, tidy, type Tensor } from '@sd/autograd';
import { generateSample, type Split } from '../data/index.ts';
import { stepRng } from '../prior/rng.ts';
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
}

export interface ClipStepReport {
  step: number;
  loss: number;
  lr: number;
  itPerSec: number;
  logitScale: number;
}

/** The batch of one step: sample indices of the training split and one caption each. */
export function clipBatch(s: ClipTrainSettings, step: number, resolution: number, contextLength: number) {
  const pick = stepRng(s.seed, step, 11);
  const images: { data: Uint8Array; width: number; height: number }[] = [];
  const captions: string[] = [];
  for (let i = 0; i < s.batchSize; i++) {
    const index = Math.floor(pick() * 2 ** 31);
    const sample = generateSample(index, { seed: s.dataSeed, split: 'train' as Split });
    images.push({ data: sample.image, width: sample.width, height: sample.height });
    captions.push(sample.captions[Math.floor(pick() * sample.captions.length)]);
  }
  return { pixels: preprocessBatch(images, resolution), ids: tokenize(captions, contextLength).ids };
}

export async function trainClip(
  model: ContrastiveModel,
  settings: ClipTrainSettings,
  options: { outDir: string; resume?: boolean; onStep?: (r: ClipStepReport) => void; config?: unknown },
): Promise<{ step: number; lastLoss: number }> {
  mkdirSync(options.outDir, { recursive: true });
  const ckptPath = join(options.outDir, 'checkpoint.safetensors');
  const metricsPath = join(options.outDir, 'metrics.jsonl');
  const params = model.parameters();
  const opt = new optim.AdamW(params, { lr: settings.lr, betas: [0.9, 0.98], eps: 1e-6, weightDecay: settings.weightDecay });
  opt.schedule = optim.warmupCosine(settings.warmupSteps, settings.steps, 0.02);
  let step = 0;
  if (options.resume && existsSync(ckptPath)) {
    const ckpt = loadCheckpoint(ckptPath);
    model.loadStateDict(ckpt.groups.model, { source: ckptPath });
    opt.loadStateDict(ckpt.groups.optim);
    step = Number(ckpt.metadata.step);
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
    if (checkpointNow) await saveCheckpoint(ckptPath, { model: model.stateDict(), optim: opt.stateDict() }, { step: String(step), config: JSON.stringify(options.config ?? null) });
  }
  model.eval();
  return { step, lastLoss };
}
