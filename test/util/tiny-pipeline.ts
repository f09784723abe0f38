// Tiny random parts of the text → image stack (a CLIP, a VAE, a decoder UNet and optionally a prior
// trained for a few steps on random 16-d pairs), shared by the pipeline and `sd sample` tests.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed } from '@sd/autograd';
import { AutoencoderKL, CLIP, DECODER_SCHEDULER_CONFIG, buildDecoderUnet, trainPrior, type PriorConfig, type TrainSettings } from '@sd/models';
import { makeRng, uniform } from './random.ts';

export const TINY_CLIP = {
  embedDim: 16,
  vision: { kind: 'vit' as const, imageResolution: 32, patchSize: 8, width: 16, layers: 1, heads: 2 },
  text: { contextLength: 16, vocabSize: 49408, width: 16, heads: 2, layers: 1 },
};
export const TINY_VAE: Record<string, unknown> = {
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
  block_out_channels: [4, 8, 8], layers_per_block: 1, latent_channels: 4, norm_num_groups: 4, sample_size: 32, scaling_factor: 0.7,
};
/** The default decoder config's layout (no attention at the top level) at widths 8/16, for 8×8×4 latents and 16-d embeddings. */
export const TINY_UNET: Record<string, unknown> = {
  _class_name: 'UNet2DConditionModelEmb', sample_size: 8, in_channels: 4, out_channels: 4, block_out_channels: [8, 16], layers_per_block: 1,
  down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D'], up_block_types: ['CrossAttnUpBlock2D', 'UpBlock2D'], attention_head_dim: [1, 2],
  cross_attention_dim: 16, norm_num_groups: 4, use_linear_projection: true, input_dim: 16, proj_n: 2, emb_dim: 16,
};
export const PRIOR: PriorConfig = { embedDim: 16, width: 32, layers: 1, heads: 2, ffMult: 2, textTokenDim: 0, clusters: 2, useClusterToken: true, timesteps: 1000 };
export const PRIOR_SETTINGS: TrainSettings = {
  steps: 4, batchSize: 8, lr: 3e-3, betas: [0.9, 0.96], weightDecay: 0.06, eps: 1e-6, maxGradNorm: 1, warmupSteps: 1,
  clusters: 2, stdScale: 1, dropText: 0.1, seed: 3, baseline: false, emaDecay: 0, checkpointEvery: 4, logEvery: 2,
};

/** The parts, freshly built; `withPrior` also trains a prior (into a temporary directory, returned as priorDir). */
export async function tinyPipelineParts(withPrior: boolean) {
  manualSeed(1);
  const clip = new CLIP(TINY_CLIP).eval();
  manualSeed(2);
  const vae = new AutoencoderKL(TINY_VAE).eval();
  const unet = buildDecoderUnet(TINY_UNET, 4).eval();
  let prior = null;
  let priorDir = '';
  if (withPrior) {
    const rng = makeRng(5);
    const pairs = { text: uniform(rng, 64 * 16, -1, 1), image: uniform(rng, 64 * 16, -1, 1), count: 64, dim: 16, source: 'random' };
    priorDir = join(mkdtempSync(join(tmpdir(), 'sd-t2i-')), 'prior');
    prior = await trainPrior(pairs, PRIOR, PRIOR_SETTINGS, { outDir: priorDir });
  }
  return { clip, vae, unet, schedulerConfig: DECODER_SCHEDULER_CONFIG, prior, priorDir };
}

