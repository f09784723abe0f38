// Decoding image embeddings to images with a decoder UNet and the VAE: DDIM with classifier-free
// guidance against the null (zero) embedding. The trainer uses it for the progress grid.
import { concat, noGrad, randn, slice, tensor, tidy, type Generator } from '@sd/autograd';
import { DDIMScheduler } from '../diffusion/ddim.ts';
import { classifierFreeGuidance } from '../diffusion/guidance.ts';
import { sampleLoop } from '../diffusion/sample-loop.ts';
import type { UNet2DConditionModelEmb } from '../unet/model.ts';
import { imageBytes, type ImageSet } from '../vae/images.ts';
import type { AutoencoderKL } from '../vae/model.ts';
import { DECODER_SCHEDULER_CONFIG } from './config.ts';

export interface DecodeOptions {
  /** DDIM steps (deterministic, η = 0). */
  steps: number;
  /** Classifier-free guidance scale; 1 is the conditional model alone (no null pass). */
  guidance: number;
  /** Latent side (the VAE's image side / its downscale). */
  side: number;
  /** Draws x_T (a fixed stream gives the same starting noise every time, so grids are comparable). */
  generator: Generator;
}

/**
 * Images for `count` embeddings (rows of `embeddings`, [count, dim]), as an 8-bit ImageSet. The null
 * condition is the zero vector, as in training (see DecoderTrainSettings.conditionDropout).
 */
export async function decodeEmbeddings(unet: UNet2DConditionModelEmb, vae: AutoencoderKL, embeddings: Float32Array, count: number, o: DecodeOptions): Promise<ImageSet> {
  const c = unet.config;
  const dim = c.input_dim;
  // SD's inference schedule: the training betas, no ᾱ = 1 step at the end.
  const scheduler = new DDIMScheduler({ ...DECODER_SCHEDULER_CONFIG, set_alpha_to_one: false });
  const cond = tensor(embeddings.subarray(0, count * dim), [count, dim]).keep();
  const both = tidy(() => concat([cond, tensor(new Float32Array(count * dim), [count, dim])], 0).keep());
  const noise = noGrad(() => randn([count, c.in_channels, o.side, o.side], { generator: o.generator }).keep());
  try {
    const latents = await sampleLoop(scheduler, (x, t) => {
      if (o.guidance === 1) return unet.forwardEmb({ sample: x, timestep: t, imageEmbedding: cond });
      const out = unet.forwardEmb({ sample: concat([x, x], 0), timestep: t, imageEmbedding: both });
      return classifierFreeGuidance(slice(out, 0, count, 2 * count), slice(out, 0, 0, count), o.guidance);
    }, noise, { steps: o.steps });
    // As diffusers' SD pipelines: the VAE decodes latents / scaling_factor.
    const pixels = tidy(() => noGrad(() => vae.decode(latents.mul(1 / vae.scalingFactor))).keep());
    latents.dispose();
    const data = (await pixels.read()) as Float32Array;
    const imageSide = pixels.shape[2];
    pixels.dispose();
    return { pixels: imageBytes(data, count, imageSide), count, side: imageSide, source: `decoded (${o.steps} DDIM steps, guidance ${o.guidance})` };
  } finally {
    cond.dispose();
    both.dispose();
    noise.dispose();
  }
}
