// Decoding image embeddings to images with a decoder UNet and the VAE: DDIM (or Euler, DPM-Solver++)
// on the decoder's own training schedule, with classifier-free guidance against the null (zero)
// embedding. The trainer uses it for the progress grid.
import { concat, noGrad, randn, slice, tensor, tidy, type Generator } from '@sd/autograd';
import { rt } from '@sd/kernels';
import { DDIMScheduler } from '../diffusion/ddim.ts';
import { DPMSolverMultistepScheduler } from '../diffusion/dpm-solver.ts';
import { EulerDiscreteScheduler } from '../diffusion/euler.ts';
import { classifierFreeGuidance } from '../diffusion/guidance.ts';
import { sampleLoop } from '../diffusion/sample-loop.ts';
import type { DiffusionScheduler } from '../diffusion/scheduler.ts';
import { parseSchedulerConfig } from '../diffusion/config.ts';
import type { FileLoader } from '@sd/io';
import { UNet2DConditionModelEmb, type UNet2DConditionModel } from '../unet/model.ts';
import { disposeModule } from '../clip/weights.ts';
import { imageBytes, type ImageSet } from '../vae/images.ts';
import type { AutoencoderKL } from '../vae/model.ts';

/**
 * The loaded UNet as the image-embedding decoder, in eval mode; any other UNet is freed and refused,
 * naming where it came from.
 */
export function asDecoderUnet(unet: UNet2DConditionModel, source: string): UNet2DConditionModelEmb {
  if (!(unet instanceof UNet2DConditionModelEmb)) {
    disposeModule(unet);
    throw new Error(`${source}: a UNet2DConditionModel, not the image-embedding decoder (UNet2DConditionModelEmb)`);
  }
  return unet.eval();
}

/** Samplers for the decoder (all deterministic). */
export const DECODER_SAMPLERS = ['ddim', 'euler', 'dpm++'] as const;
export type DecoderSampler = (typeof DECODER_SAMPLERS)[number];

/**
 * A sampler on a decoder's training schedule: its `scheduler_config.json` (β, and prediction_type:
 * a v-prediction decoder sampled as ε would silently give noise). DDIM as SD's pipelines: no ᾱ = 1
 * step at the end.
 */
export function decoderSampler(schedulerConfig: Readonly<Record<string, unknown>>, sampler: DecoderSampler = 'ddim'): DiffusionScheduler {
  switch (sampler) {
    case 'ddim':
      return DDIMScheduler.fromConfig({ ...schedulerConfig, set_alpha_to_one: false });
    case 'euler':
      return EulerDiscreteScheduler.fromConfig(schedulerConfig);
    case 'dpm++':
      return DPMSolverMultistepScheduler.fromConfig(schedulerConfig);
    default:
      throw new Error(`decoderSampler: unknown sampler ${JSON.stringify(sampler)} (known: ${DECODER_SAMPLERS.join(', ')})`);
  }
}

/** A decoder folder's scheduler_config.json through a loader (a page's fetch), parsed; errors name the file. */
export async function loadDecoderSchedulerConfig(loader: FileLoader, decoderDir: string): Promise<Record<string, unknown>> {
  const file = `${decoderDir}/scheduler_config.json`;
  const text = await loader.text(file);
  try {
    return parseSchedulerConfig(text);
  } catch (e) {
    throw new Error(`${loader.root}/${file}: ${(e as Error).message}`);
  }
}

export interface DecodeOptions {
  /** Sampling steps. */
  steps: number;
  /** The decoder's scheduler_config.json (its training schedule and prediction_type). */
  schedulerConfig: Readonly<Record<string, unknown>>;
  /** The sampler (default DDIM, η = 0). */
  sampler?: DecoderSampler;
  /** Classifier-free guidance scale; 1 is the conditional model alone (no null pass). */
  guidance: number;
  /** Latent side (the VAE's image side / its downscale). */
  side: number;
  /** Draws x_T (a fixed stream gives the same starting noise every time, so grids are comparable). */
  generator: Generator;
  /**
   * Called after each sampling step once the GPU has finished it (so a progress bar shows work done,
   * not work queued; the wait costs a sync per step, paid only when this is given).
   */
  onStep?: (done: number, total: number) => void;
}

/**
 * Images for `count` embeddings (rows of `embeddings`, [count, dim]), as an 8-bit ImageSet. The null
 * condition is the zero vector, as in training (see DecoderTrainSettings.conditionDropout).
 */
export async function decodeEmbeddings(unet: UNet2DConditionModelEmb, vae: AutoencoderKL, embeddings: Float32Array, count: number, o: DecodeOptions): Promise<ImageSet> {
  const c = unet.config;
  const dim = c.input_dim;
  const scheduler = decoderSampler(o.schedulerConfig, o.sampler);
  const cond = tensor(embeddings.subarray(0, count * dim), [count, dim]).keep();
  const both = tidy(() => concat([cond, tensor(new Float32Array(count * dim), [count, dim])], 0).keep());
  const noise = noGrad(() => randn([count, c.in_channels, o.side, o.side], { generator: o.generator }).keep());
  try {
    const latents = await sampleLoop(scheduler, (x, t) => {
      if (o.guidance === 1) return unet.forwardEmb({ sample: x, timestep: t, imageEmbedding: cond });
      const out = unet.forwardEmb({ sample: concat([x, x], 0), timestep: t, imageEmbedding: both });
      return classifierFreeGuidance(slice(out, 0, count, 2 * count), slice(out, 0, 0, count), o.guidance);
    }, noise, { steps: o.steps, onStep: o.onStep && (async (i) => (await rt().sync(), o.onStep!(i + 1, o.steps))) });
    // As diffusers' SD pipelines: the VAE decodes latents / scaling_factor.
    const pixels = tidy(() => noGrad(() => vae.decode(latents.mul(1 / vae.scalingFactor))).keep());
    latents.dispose();
    const data = (await pixels.read()) as Float32Array;
    const imageSide = pixels.shape[2];
    pixels.dispose();
    return { pixels: imageBytes(data, count, imageSide), count, side: imageSide, source: `decoded (${o.steps} ${o.sampler ?? 'ddim'} steps, guidance ${o.guidance})` };
  } finally {
    cond.dispose();
    both.dispose();
    noise.dispose();
  }
}
