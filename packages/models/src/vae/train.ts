// Training the VAE as Stable Diffusion's first stage, without the adversarial and perceptual terms:
// pixel MSE plus a small KL term, AdamW with warm-up and clipping, the project's run directory
// (config.json, atomic checkpoints, metrics.jsonl, bit-exact resume), and at the end the measured
// scaling_factor in a diffusers folder (final/).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { manualSeed, optim, saveCheckpoint, tensor, tidy, type Generator, type Tensor } from '@sd/autograd';
import { purposeSeed } from '../data/prng.ts';
import { openRun } from '../training/run-dir.ts';
import { runCheckpointedSteps, type TrainRunOptions, type OptimizerSettings } from '../training/loop.ts';
import { purposeGenerator, stepOffset, stepRng } from '../training/rng.ts';
import { fingerprintImages, imageBatch, imageCropBatch, type ImageSet } from './images.ts';
import { AutoencoderKL } from './model.ts';
import { measureScalingFactor, type ScalingMeasurement } from './evaluate.ts';

export interface VaeTrainSettings extends OptimizerSettings {
  /** Weight of KL(q(z|x) ‖ N(0, I)) against the reconstruction error, both summed per image (SD: 1e-6). */
  klWeight: number;
  /**
   * Side of the square window each training image is cut to, at a random position (the images'
   * side: whole images). The model is convolutional; a 32-pixel window of a 64-pixel image costs
   * about a quarter of the step, so more steps fit in the same time.
   */
  crop: number;
  /**
   * The share of the steps (the first ones) trained on crops; the rest train on whole images. The
   * mid-block attention and GroupNorm pool over the whole grid, so a model trained only on 32-pixel
   * windows reconstructs 64-pixel images badly (measured: 25 dB on windows, 17 dB on whole images);
   * a last stretch on whole images adapts them.
   */
  cropShare: number;
  /** The learning rate after warm-up: held ('constant') or decayed to zero at the last step ('cosine'). */
  schedule: VaeSchedule;
  seed: number;
  checkpointEvery: number;
  logEvery: number;
}

export interface VaeRunConfig {
  format: 'sd-vae/1';
  /** The diffusers config the VAE is built from (its scaling_factor is measured after training). */
  model: Record<string, unknown>;
  train: VaeTrainSettings;
  data: { source: string; count: number; side: number; sha256: string };
}

export type VaeTrainOptions = TrainRunOptions<AutoencoderKL>;

export interface VaeTrainResult {
  vae: AutoencoderKL;
  step: number;
  lastLoss: number;
  /** Set once the run reached its last step: the scaling factor stored in final/config.json. */
  scaling: ScalingMeasurement | null;
}

export const VAE_SCHEDULES = ['constant', 'cosine'] as const;
export type VaeSchedule = (typeof VAE_SCHEDULES)[number];

/** The lr multiplier of a run: linear warm-up, then constant or a cosine decay to 0 at `steps`. */
export function vaeSchedule(s: Pick<VaeTrainSettings, 'schedule' | 'warmupSteps' | 'steps'>): optim.Schedule {
  if (s.schedule === 'constant') return optim.linearWarmup(s.warmupSteps);
  if (s.schedule === 'cosine') return optim.warmupCosine(s.warmupSteps, s.steps);
  throw new Error(`VAE schedule "${String(s.schedule)}" is not one of ${VAE_SCHEDULES.join(', ')}`);
}

/** The diffusers folder of the finished run (AutoencoderKL.fromPretrained reads it). */
export const VAE_FINAL_DIR = 'final';
/** The host draw of batch rows, a stream of its own (stepRng). */
const BATCH_STREAM = 1;
/** The host draw of crop positions, a stream of its own so cropping leaves the rows drawn unchanged. */
const CROP_STREAM = 2;

/** Batch rows of one step, with replacement: a pure function of seed and step, so a resume redraws them. */
export function vaeBatchRows(s: VaeTrainSettings, step: number, count: number): Int32Array {
  const rng = stepRng(s.seed, step, BATCH_STREAM);
  return Int32Array.from({ length: s.batchSize }, () => Math.floor(rng() * count));
}

/** Steps 0..vaeCropSteps−1 train on crops, the rest on whole images. */
export function vaeCropSteps(s: Pick<VaeTrainSettings, 'cropShare' | 'steps'>): number {
  return Math.round(s.cropShare * s.steps);
}

/** Top-left corners of one step's crop windows (uniform over every position that fits): a pure function of seed and step. */
export function vaeCropOffsets(s: VaeTrainSettings, step: number, side: number): { xs: Int32Array; ys: Int32Array } {
  const rng = stepRng(s.seed, step, CROP_STREAM);
  const positions = side - s.crop + 1;
  const xs = new Int32Array(s.batchSize);
  const ys = new Int32Array(s.batchSize);
  for (let b = 0; b < s.batchSize; b++) {
    xs[b] = Math.floor(rng() * positions);
    ys[b] = Math.floor(rng() * positions);
  }
  return { xs, ys };
}

/** The VAE's initial weights, drawn from the run's own init stream. */
export function buildVae(model: Record<string, unknown>, seed: number): AutoencoderKL {
  manualSeed(purposeSeed(seed, 'vae/init'));
  return new AutoencoderKL(model, { label: 'VAE config' });
}

/**
 * The training objective: mean squared error over pixels in [-1, 1], plus klWeight·KL. The KL is
 * summed over each image's latent and divided by its pixel count, which is SD's weighting (both
 * terms summed per image) rescaled so the loss reads as a per-pixel MSE.
 */
export function vaeLoss(vae: AutoencoderKL, images: Tensor, klWeight: number, noise: Generator): Tensor {
  const posterior = vae.encode(images);
  const reconstruction = vae.decode(posterior.sample(noise));
  const pixelsPerImage = images.size / images.shape[0];
  const mse = reconstruction.sub(images).square().mean();
  return mse.add(posterior.kl().mean().mul(klWeight / pixelsPerImage));
}

/**
 * Trains (or resumes) a VAE on `images`. `outDir` must be empty or missing unless resuming; a resume
 * must have the same settings (steps may grow) and the same images.
 */
export async function trainVae(images: ImageSet, model: Record<string, unknown>, settings: VaeTrainSettings, options: VaeTrainOptions): Promise<VaeTrainResult> {
  // Checked before the run directory is written: a bad crop leaves nothing behind.
  const downscale = 2 ** (((model.block_out_channels as number[] | undefined) ?? [64]).length - 1);
  if (!(Number.isInteger(settings.crop) && settings.crop >= downscale && settings.crop <= images.side && settings.crop % downscale === 0)) {
    throw new Error(`VAE crop ${settings.crop}: must be a multiple of the VAE's downscale factor ${downscale} between ${downscale} and the images' side ${images.side}`);
  }
  if (!(settings.cropShare >= 0 && settings.cropShare <= 1)) throw new Error(`VAE cropShare ${settings.cropShare}: must be in [0, 1] (the share of the steps trained on crops)`);
  vaeSchedule(settings);
  const config: VaeRunConfig = { format: 'sd-vae/1', model, train: settings, data: { source: images.source, count: images.count, side: images.side, sha256: fingerprintImages(images) } };
  const { checkpointPath: ckptPath, metricsPath, resumeFrom, step: from } = openRun(options.outDir, config, { resume: options.resume, kind: 'VAE' });

  const vae = buildVae(model, settings.seed);
  const params = vae.parameters();
  const opt = new optim.AdamW(params, { lr: settings.lr, betas: settings.betas, weightDecay: settings.weightDecay, eps: settings.eps });
  opt.schedule = vaeSchedule(settings);
  if (resumeFrom) {
    vae.loadStateDict(resumeFrom.groups.model, { source: ckptPath });
    opt.loadStateDict(resumeFrom.groups.optim);
  }

  // Noise offsets are sized for whole images, so a step's stream range does not depend on cropping.
  const latentSize = vae.config.latent_channels * (images.side / vae.downscale) ** 2;
  const cropSteps = settings.crop < images.side ? vaeCropSteps(settings) : 0;
  const done = await runCheckpointedSteps({
    from,
    steps: settings.steps,
    stopAfter: options.stopAfter,
    logEvery: settings.logEvery,
    checkpointEvery: settings.checkpointEvery,
    metricsPath,
    checkpointPath: ckptPath,
    params,
    onStep: options.onStep,
    afterUpdate: (step) => options.afterUpdate?.(step, vae),
    save: (step) => saveCheckpoint(ckptPath, { model: vae.stateDict(), optim: opt.stateDict() }, { config: JSON.stringify(config), step: String(step) }),
    runStep: (step) => {
      const rows = vaeBatchRows(settings, step, images.count);
      const lr = opt.currentLr();
      const loss = tidy(() => {
        let pixels: Float32Array;
        const cropping = step < cropSteps;
        if (cropping) {
          const { xs, ys } = vaeCropOffsets(settings, step, images.side);
          pixels = imageCropBatch(images, rows, xs, ys, settings.crop);
        } else {
          pixels = imageBatch(images, rows);
        }
        const side = cropping ? settings.crop : images.side;
        const x = tensor(pixels, [rows.length, 3, side, side]);
        // Each step reads its own range of the noise stream, so a resumed run draws the same ε.
        const noise = purposeGenerator(settings.seed, 'vae/noise', stepOffset(step, rows.length * latentSize));
        const l = vaeLoss(vae, x, settings.klWeight, noise);
        l.backward();
        opt.update({ maxGradNorm: settings.maxGradNorm });
        opt.zeroGrad();
        return l.detach();
      });
      return { loss, lr };
    },
  });
  vae.eval();
  if (done.step < settings.steps) return { vae, ...done, scaling: null };
  const scaling = await measureScalingFactor(vae, images, { seed: settings.seed });
  vae.setScalingFactor(scaling.scalingFactor);
  await vae.savePretrained(join(options.outDir, VAE_FINAL_DIR));
  writeFileSync(join(options.outDir, 'scaling.json'), JSON.stringify(scaling, null, 2));
  return { vae, ...done, scaling };
}
