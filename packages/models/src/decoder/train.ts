// Training the language-free decoder: the seed's UNet2DConditionModelEmb on VAE latents, each
// conditioned on the CLIP image embedding of its own image (captions are never read). SD's recipe:
// ε-prediction, the scaled_linear schedule, uniform timesteps, MSE, a share of null conditions for
// classifier-free guidance, AdamW with warm-up and clipping, EMA. The run directory is the VAE's
// (config.json, atomic checkpoints, metrics.jsonl, loss.png, bit-exact resume) plus the cached
// latents/embeddings, a sample grid every N steps, and the EMA weights as a diffusers folder (final/).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gather, manualSeed, nn, optim, randn, reshape, saveCheckpoint, tensor, type Tensor } from '@sd/autograd';
import { purposeSeed } from '../data/prng.ts';
import { encodeRgbPng } from '../data/image-codec.ts';
import { DDPMScheduler } from '../diffusion/ddpm.ts';
import type { PredictionType } from '../diffusion/config.ts';
import type { DiffusionScheduler } from '../diffusion/scheduler.ts';
import { emaGroup, restoreEma } from '../training/ema.ts';
import { runCheckpointedSteps, type TrainRunOptions, type OptimizerSettings } from '../training/loop.ts';
import { writeLossPlot } from '../training/plot.ts';
import { RecordedSteps, StepInput } from '../training/recorded-step.ts';
import { purposeGenerator, stepOffset, stepRng } from '../training/rng.ts';
import { assertFreshRunDir, openRun } from '../training/run-dir.ts';
import { UNet2DConditionModelEmb } from '../unet/model.ts';
import { timestepFeatureTable } from '../unet/time.ts';
import { imageGrid, subsetImages, type ImageSet } from '../vae/images.ts';
import type { AutoencoderKL } from '../vae/model.ts';
import { checkDecoderInputs, decoderSchedulerConfig } from './config.ts';
import { assertCacheCurrent, decoderFingerprint, loadOrBuildDecoderData, type DecoderClip, type DecoderData } from './data.ts';
import { CLIP_SPACE_FILE, clipSpaceRecord } from './clip-space.ts';
import { decodeEmbeddings } from './sample.ts';

export interface DecoderTrainSettings extends OptimizerSettings {
  /** EMA decay cap: the decay at optimisation step s is min(emaDecay, (1+s)/(10+s)) (the seed's, diffusers' EMAModel). */
  emaDecay: number;
  /**
   * Share of conditions replaced by the null embedding, for classifier-free guidance (SD: 0.1). The
   * null is the zero vector. The seed used the prior's embedding of the empty caption, but then the
   * unconditional branch of guidance depends on which prior is evaluated (shifted, baseline or none
   * would each guide against a different null); zero depends on nothing, and it is far from every
   * real condition (those are unit vectors). emb_proj_layers' bias turns it into learned null tokens.
   */
  conditionDropout: number;
  /**
   * What the UNet predicts: SD 1's ε ('epsilon'), or v = √ᾱ·ε − √(1−ᾱ)·x₀ ('v_prediction', SD 2's
   * 768-pixel models). Written to the run's scheduler_config.json, which every sampler reads.
   */
  predictionType: PredictionType;
  /**
   * Decay the learning rate linearly to 0 over the run's last this-many steps (warmup–stable–decay);
   * absent: constant after warm-up. It may be set at a resume whose checkpoint it starts at or after.
   */
  decaySteps?: number;
  seed: number;
  checkpointEvery: number;
  logEvery: number;
  /** Write samples/step-NNNNNN.png every this many steps (and at the end); 0: only at the end. */
  sampleEvery: number;
  /** DDIM steps and guidance of those samples. */
  sampleSteps: number;
  sampleGuidance: number;
}

export interface DecoderRunConfig {
  format: 'sd-decoder/1';
  model: Record<string, unknown>;
  scheduler: Record<string, unknown>;
  train: DecoderTrainSettings;
  data: { source: string; count: number; side: number; heldOut: string; vae: string; clip: string; fingerprint: { data: string; vae: string; clip: string; sha256: string } };
}

export interface DecoderInputs {
  train: ImageSet;
  /** Held-out images whose embeddings the sample grid decodes (the first 8 are shown). */
  heldOut: ImageSet;
  vae: AutoencoderKL;
  clip: DecoderClip;
  /** Where the VAE and the CLIP came from (config.json and error messages). */
  vaeSource: string;
  clipSource: string;
}

export interface DecoderTrainOptions extends TrainRunOptions<UNet2DConditionModelEmb> {
  onMessage?: (message: string) => void;
}

export interface DecoderTrainResult {
  /** The trained UNet, with the EMA weights loaded once the run reached its last step. */
  unet: UNet2DConditionModelEmb;
  step: number;
  lastLoss: number;
}

export const DECODER_FINAL_DIR = 'final';
export const DECODER_CACHE = 'latents.safetensors';
/** Host draws of each step, one stream each (stepRng), so one never shifts another. */
const STREAM = { rows: 1, timesteps: 2, dropout: 3 } as const;
const GRID_COUNT = 8;

/** Batch rows, timesteps (uniform over the training steps) and kept conditions of one step: pure functions of seed and step. */
export function decoderStepDraws(s: DecoderTrainSettings, step: number, count: number, timesteps: number): { rows: Int32Array; t: number[]; keep: Float32Array } {
  const rows = stepRng(s.seed, step, STREAM.rows);
  const ts = stepRng(s.seed, step, STREAM.timesteps);
  const drop = stepRng(s.seed, step, STREAM.dropout);
  return {
    rows: Int32Array.from({ length: s.batchSize }, () => Math.floor(rows() * count)),
    t: Array.from({ length: s.batchSize }, () => Math.floor(ts() * timesteps)),
    keep: Float32Array.from({ length: s.batchSize }, () => (drop() < s.conditionDropout ? 0 : 1)),
  };
}

/**
 * Timesteps on the device (a recorded step's input): i32 ids [B] and the UNet's feature table over
 * all training timesteps (timestepFeatureTable), from which the step gathers its rows.
 */
export interface DeviceTimesteps {
  ids: Tensor;
  table: Tensor;
}

/**
 * SD's objective: the mean squared error of the UNet's output at x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε against
 * the scheduler's prediction_type: ε, v = √ᾱ_t·ε − √(1−ᾱ_t)·x₀, or x₀ ('sample').
 */
export function decoderLoss(unet: UNet2DConditionModelEmb, scheduler: DiffusionScheduler, x0: Tensor, condition: Tensor, noise: Tensor, t: number[] | DeviceTimesteps): Tensor {
  const ids = Array.isArray(t) ? t : t.ids;
  const sample = scheduler.addNoise(x0, noise, ids);
  const timestep = Array.isArray(t) ? t : gather(t.table, t.ids, 0);
  const prediction = unet.forwardEmb({ sample, timestep, imageEmbedding: condition });
  const kind = scheduler.config.prediction_type;
  const target = kind === 'epsilon' ? noise : kind === 'v_prediction' ? scheduler.getVelocity(x0, noise, ids) : x0;
  return prediction.sub(target).square().mean();
}

/** The UNet's initial weights, from the run's own init stream. */
export function buildDecoderUnet(model: Record<string, unknown>, seed: number): UNet2DConditionModelEmb {
  manualSeed(purposeSeed(seed, 'decoder/init'));
  return new UNet2DConditionModelEmb(model, { label: 'decoder UNet config' });
}

/**
 * Trains (or resumes) the decoder. The VAE, the CLIP and the image size are checked against the UNet
 * config first; `outDir` must be empty or missing unless resuming, and a resume needs the same
 * settings (steps may grow), images, VAE and CLIP (its latent cache is refused otherwise).
 */
export async function trainDecoder(inputs: DecoderInputs, model: Record<string, unknown>, settings: DecoderTrainSettings, options: DecoderTrainOptions): Promise<DecoderTrainResult> {
  const { train, heldOut, vae, clip } = inputs;
  checkDecoderInputs(model, { model: vae, label: inputs.vaeSource }, { model: clip, label: inputs.clipSource }, train.side);
  if (!options.resume) assertFreshRunDir(options.outDir);
  const fingerprint = await decoderFingerprint(train, heldOut, vae, clip);
  const cachePath = join(options.outDir, DECODER_CACHE);
  // Before anything in the directory is touched: a resume on other inputs names what changed.
  if (options.resume) assertCacheCurrent(cachePath, fingerprint);
  const config: DecoderRunConfig = {
    format: 'sd-decoder/1', model, scheduler: decoderSchedulerConfig(settings.predictionType), train: settings,
    data: { source: train.source, count: train.count, side: train.side, heldOut: heldOut.source, vae: inputs.vaeSource, clip: inputs.clipSource, fingerprint },
  };
  // The VAE's and CLIP's paths may change (a moved folder); their weights may not (the fingerprint).
  const run = openRun(options.outDir, config, { resume: options.resume, kind: 'decoder', ignore: ['data.vae', 'data.clip'] });
  const data = await loadOrBuildDecoderData(cachePath, fingerprint, train, heldOut, vae, clip, options.onMessage);

  const unet = buildDecoderUnet(model, settings.seed);
  const params = unet.parameters();
  const opt = new optim.AdamW(params, { lr: settings.lr, betas: settings.betas, weightDecay: settings.weightDecay, eps: settings.eps });
  opt.schedule = optim.warmupStableDecay(settings.warmupSteps, settings.steps, settings.decaySteps ?? 0);
  const ema = new optim.EMA(params, { decay: settings.emaDecay });
  if (run.resumeFrom) {
    unet.loadStateDict(run.resumeFrom.groups.model, { source: run.checkpointPath });
    opt.loadStateDict(run.resumeFrom.groups.optim);
    restoreEma(unet, ema, run.resumeFrom, run.checkpointPath);
  }
  // A second UNet holds the EMA weights for sampling, so the training weights are never swapped out.
  const averaged = nn.init.withoutInit(() => new UNet2DConditionModelEmb(model, { label: 'decoder UNet config' }));
  const writeSamples = async (step: number) => {
    ema.copyTo(averaged.parameters());
    averaged.eval();
    await writeSampleGrid(averaged, vae, data, heldOut, settings, config.scheduler, join(options.outDir, 'samples', `step-${String(step).padStart(6, '0')}.png`));
  };

  const latents = tensor(data.latents, [data.count, data.channels * data.side * data.side]).keep();
  const embeddings = tensor(data.embeddings, [data.count, data.dim]).keep();
  const scheduler = new DDPMScheduler(config.scheduler);
  const T = scheduler.config.num_train_timesteps;
  const perStep = settings.batchSize * data.channels * data.side * data.side;
  // One step: its inputs are drawn for the host step counter and uploaded (in a perRun callback),
  // so a recorded step replays with each step's own rows, timesteps,
  // dropped conditions and noise (see training/recorded-step.ts).
  const B = settings.batchSize;
  const input = { ids: new StepInput([B], 'i32'), t: new StepInput([B], 'i32'), keep: new StepInput([B, 1], 'f32') };
  const timestepTable = timestepFeatureTable(unet.config, T).keep();
  const noise = purposeGenerator(settings.seed, 'decoder/noise');
  const steps = new RecordedSteps({
    inputs: (current) => {
      const { rows, t, keep } = decoderStepDraws(settings, current, data.count, T);
      input.ids.write(rows);
      input.t.write(Int32Array.from(t));
      input.keep.write(keep);
      // Each step reads its own range of the noise stream, so a resumed run draws the same ε.
      noise.offset = stepOffset(current, perStep);
    },
    compute: () => {
      const ids = input.ids.tensor;
      const x0 = reshape(gather(latents, ids, 0), [B, data.channels, data.side, data.side]);
      // Dropped conditions become exactly zero (the null embedding): a multiplication by 0 or 1.
      const condition = gather(embeddings, ids, 0).mul(input.keep.tensor);
      const l = decoderLoss(unet, scheduler, x0, condition, randn(x0.shape, { generator: noise }), { ids: input.t.tensor, table: timestepTable });
      l.backward();
      opt.update({ maxGradNorm: settings.maxGradNorm });
      opt.zeroGrad();
      ema.update();
      return l.detach();
    },
    enabled: options.record ?? true,
  });
  let done;
  try {
    done = await runCheckpointedSteps({
      from: run.step,
      steps: settings.steps,
      stopAfter: options.stopAfter,
      logEvery: settings.logEvery,
      checkpointEvery: settings.checkpointEvery,
      metricsPath: run.metricsPath,
      checkpointPath: run.checkpointPath,
      params,
      onStep: options.onStep,
      afterUpdate: (step) => options.afterUpdate?.(step, unet),
      save: async (step) => {
        await saveCheckpoint(run.checkpointPath, { model: unet.stateDict(), optim: opt.stateDict(), ema: emaGroup(unet, ema) }, { config: JSON.stringify(config), step: String(step) });
        writeLossPlot(options.outDir, 'decoder');
      },
      afterStep: async (step) => {
        if (settings.sampleEvery > 0 && step % settings.sampleEvery === 0) await writeSamples(step);
      },
      runStep: (step) => ({ lr: opt.currentLr(), loss: steps.run(step) }),
    });
  } catch (error) {
    averaged.dispose();
    throw error;
  } finally {
    steps.dispose();
    for (const x of [latents, embeddings, timestepTable, ...Object.values(input)]) x.dispose();
  }
  unet.eval();
  if (done.step < settings.steps) {
    averaged.dispose();
    return { unet, ...done };
  }
  if (settings.sampleEvery === 0 || done.step % settings.sampleEvery !== 0) await writeSamples(done.step);
  ema.copyTo();
  averaged.dispose();
  await unet.savePretrained(join(options.outDir, DECODER_FINAL_DIR));
  writeFileSync(join(options.outDir, DECODER_FINAL_DIR, 'scheduler_config.json'), JSON.stringify(config.scheduler, null, 2));
  writeFileSync(join(options.outDir, DECODER_FINAL_DIR, CLIP_SPACE_FILE), JSON.stringify(clipSpaceRecord(inputs.clip, inputs.clipSource, fingerprint.clip), null, 2));
  return { unet, ...done };
}

/** Held-out originals above the decoder's images of their embeddings, with the same x_T every time. */
async function writeSampleGrid(unet: UNet2DConditionModelEmb, vae: AutoencoderKL, data: DecoderData, heldOut: ImageSet, s: DecoderTrainSettings, schedulerConfig: Record<string, unknown>, path: string): Promise<void> {
  const count = Math.min(GRID_COUNT, data.heldOutCount);
  if (count === 0) return;
  const generator = purposeGenerator(s.seed, 'decoder/sample-noise');
  const decoded = await decodeEmbeddings(unet, vae, data.heldOutEmbeddings, count, { steps: s.sampleSteps, guidance: s.sampleGuidance, schedulerConfig, generator, side: data.side });
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, encodeRgbPng(imageGrid([subsetImages(heldOut, 0, count), decoded], count)));
}
