// The language-free decoder's UNet and noise schedule, and the checks that the VAE and the CLIP it is
// trained with fit it (made before any image is encoded, naming the keys and dimensions).
import { readUNetConfig, TINY_DECODER_UNET_CONFIG, UNET_EMB_SCHEMA, type UNetEmbConfig } from '../unet/config.ts';
import type { PredictionType } from '../diffusion/config.ts';
import type { AutoencoderKL } from '../vae/model.ts';
import type { DecoderClip } from './data.ts';

/**
 * The default decoder UNet (UNet2DConditionModelEmb) for the default VAE's 16×16×4 latents and the
 * default CLIP's 64-d image embeddings (DEFAULT_CLIP_CONFIG.embedDim), 4 context tokens of 64: the
 * benchmarked TINY_DECODER_UNET_CONFIG with attention at one level. Two levels (16×16, 8×8), widths 32/64, one resnet per block; cross-attention only at 8×8: on
 * lavapipe self-attention over the 256 tokens of the 16×16 level cost ~40% of a step (timed with
 * scripts/time-decoder.ts, see the README), while a shape 3 latent pixels wide is still ~2 pixels at
 * 8×8, where the image embedding's colour/shape/position reach it. Sized so a batch-16 step stays
 * around a second on the 2-core machine (a 60-minute default run is then ~3000 steps).
 */
export const PROCEDURAL_DECODER_UNET_CONFIG: Record<string, unknown> = {
  ...TINY_DECODER_UNET_CONFIG,
  down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D'],
  up_block_types: ['CrossAttnUpBlock2D', 'UpBlock2D'],
  attention_head_dim: [1, 2],
};

/** Stable Diffusion's training schedule: ε-prediction, scaled_linear β from 0.00085 to 0.012 over 1000 steps. */
export const DECODER_SCHEDULER_CONFIG: Record<string, unknown> = {
  _class_name: 'DDPMScheduler',
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  prediction_type: 'epsilon',
  clip_sample: false,
  steps_offset: 1,
};

/** SD's schedule with another model output (SD 2's 768-pixel models use the same β with v_prediction). */
export function decoderSchedulerConfig(prediction: PredictionType): Record<string, unknown> {
  return { ...DECODER_SCHEDULER_CONFIG, prediction_type: prediction };
}

/**
 * Refuses a VAE, CLIP or image size that do not fit the UNet config, each error naming the file (label),
 * the config key and both numbers. Returns the parsed UNet config.
 */
export function checkDecoderInputs(unet: Record<string, unknown>, vae: { model: AutoencoderKL; label: string }, clip: { model: DecoderClip; label: string }, imageSide: number, unetLabel = 'decoder UNet config'): UNetEmbConfig {
  const { config, layout } = readUNetConfig<UNetEmbConfig>(unet, unetLabel, UNET_EMB_SCHEMA);
  const latentChannels = vae.model.config.latent_channels;
  if (latentChannels !== config.in_channels || latentChannels !== config.out_channels) {
    throw new Error(`${vae.label}: the VAE's latent_channels is ${latentChannels}, but the ${unetLabel} has in_channels ${config.in_channels} and out_channels ${config.out_channels}; they must all agree`);
  }
  if (clip.model.embedDim !== config.input_dim) {
    throw new Error(`${clip.label}: the CLIP's image embeddings are ${clip.model.embedDim}-d, but the ${unetLabel} has input_dim ${config.input_dim}; they must agree`);
  }
  if (imageSide % vae.model.downscale) throw new Error(`${vae.label}: ${imageSide}×${imageSide} images are not divisible by the VAE's downscale ${vae.model.downscale}`);
  const latentSide = imageSide / vae.model.downscale;
  const unetDownscale = 2 ** (layout.blocks - 1);
  if (latentSide % unetDownscale) {
    throw new Error(`${unetLabel}: ${latentSide}×${latentSide} latents (${imageSide}-pixel images / the VAE's downscale ${vae.model.downscale}) are not divisible by the UNet's downscale ${unetDownscale} (${layout.blocks} blocks in block_out_channels)`);
  }
  return config;
}
