// The text → image pipeline on tiny random models (a tiny CLIP, a prior trained for a few steps on
// random 16-d pairs, a tiny decoder UNet and VAE): determinism for a seed, the trivial arm decoding
// the text embedding itself, unit embeddings, RGBA output, and clear errors for mismatched parts.
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed } from '@sd/autograd';
import { AutoencoderKL, CLIP, TextToImagePipeline, buildDecoderUnet, trainPrior, type PriorConfig, type TrainSettings } from '@sd/models';
import { makeRng, uniform } from '../util/random.ts';

const TINY_CLIP = {
  embedDim: 16,
  vision: { kind: 'vit' as const, imageResolution: 32, patchSize: 8, width: 16, layers: 1, heads: 2 },
  text: { contextLength: 16, vocabSize: 49408, width: 16, heads: 2, layers: 1 },
};
const TINY_VAE: Record<string, unknown> = {
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
  block_out_channels: [4, 8, 8], layers_per_block: 1, latent_channels: 4, norm_num_groups: 4, sample_size: 32, scaling_factor: 0.7,
};
const TINY_UNET: Record<string, unknown> = {
  _class_name: 'UNet2DConditionModelEmb', sample_size: 8, in_channels: 4, out_channels: 4, block_out_channels: [8, 16], layers_per_block: 1,
  down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D'], up_block_types: ['CrossAttnUpBlock2D', 'UpBlock2D'], attention_head_dim: [1, 2],
  cross_attention_dim: 16, norm_num_groups: 4, use_linear_projection: true, input_dim: 16, proj_n: 2, emb_dim: 16,
};
const PRIOR: PriorConfig = { embedDim: 16, width: 32, layers: 1, heads: 2, ffMult: 2, textTokenDim: 0, clusters: 2, useClusterToken: true, timesteps: 1000 };
const PRIOR_SETTINGS: TrainSettings = {
  steps: 4, batchSize: 8, lr: 3e-3, betas: [0.9, 0.96], weightDecay: 0.06, eps: 1e-6, maxGradNorm: 1, warmupSteps: 1,
  clusters: 2, stdScale: 1, dropText: 0.1, seed: 3, baseline: false, emaDecay: 0, checkpointEvery: 4, logEvery: 2,
};

async function parts(withPrior: boolean) {
  manualSeed(1);
  const clip = new CLIP(TINY_CLIP).eval();
  manualSeed(2);
  const vae = new AutoencoderKL(TINY_VAE).eval();
  const unet = buildDecoderUnet(TINY_UNET, 4).eval();
  let prior = null;
  if (withPrior) {
    const rng = makeRng(5);
    const pairs = { text: uniform(rng, 64 * 16, -1, 1), image: uniform(rng, 64 * 16, -1, 1), count: 64, dim: 16, source: 'random' };
    prior = await trainPrior(pairs, PRIOR, PRIOR_SETTINGS, { outDir: join(mkdtempSync(join(tmpdir(), 'sd-t2i-')), 'prior') });
  }
  return { clip, vae, unet, prior };
}

const CAPTIONS = ['a large red star in the top left corner', 'a small blue circle'];

describe('TextToImagePipeline', () => {
  it('decodes the text embedding itself without a prior: unit embeddings, RGBA images, the same for the same seed', async () => {
    const pipeline = new TextToImagePipeline(await parts(false));
    const a = await pipeline.generate(CAPTIONS, { steps: 3, guidance: 2, seed: 7 });
    const b = await pipeline.generate(CAPTIONS, { steps: 3, guidance: 2, seed: 7 });
    const c = await pipeline.generate(CAPTIONS, { steps: 3, guidance: 2, seed: 8 });
    expect(a.side).toBe(32);
    expect(a.images.map((im) => im.length)).toEqual([32 * 32 * 4, 32 * 32 * 4]);
    expect(a.images.every((im) => im.every((v, i) => i % 4 !== 3 || v === 255))).toBe(true);
    expect(Array.from(a.embeddings)).toEqual(Array.from(a.textEmbeddings));
    for (let r = 0; r < 2; r++) expect(Math.hypot(...a.embeddings.subarray(r * 16, r * 16 + 16))).toBeCloseTo(1, 5);
    expect(a.images.map((im) => Array.from(im))).toEqual(b.images.map((im) => Array.from(im)));
    expect(a.images.map((im) => Array.from(im))).not.toEqual(c.images.map((im) => Array.from(im)));
    expect(a.truncated).toEqual([]);
    pipeline.dispose();
  });

  it('with a prior, decodes the prior\'s (unit) embeddings, deterministically for a seed', async () => {
    const pipeline = new TextToImagePipeline(await parts(true));
    const a = await pipeline.generate(CAPTIONS, { steps: 2, priorSteps: 2, seed: 1 });
    const b = await pipeline.generate(CAPTIONS, { steps: 2, priorSteps: 2, seed: 1 });
    expect(Array.from(a.embeddings)).not.toEqual(Array.from(a.textEmbeddings));
    for (let r = 0; r < 2; r++) expect(Math.hypot(...a.embeddings.subarray(r * 16, r * 16 + 16))).toBeCloseTo(1, 5);
    expect(Array.from(a.embeddings)).toEqual(Array.from(b.embeddings));
    expect(a.images.map((im) => Array.from(im))).toEqual(b.images.map((im) => Array.from(im)));
    // A caption past the tiny CLIP's 16-token context is cut, and reported.
    const long = await pipeline.generate(['a ' + 'very '.repeat(30) + 'long caption'], { steps: 1, priorSteps: 1 });
    expect(long.truncated).toEqual([0]);
    pipeline.dispose();
  });

  it('refuses parts that do not fit together, naming the dimensions', async () => {
    const p = await parts(false);
    manualSeed(3);
    const wide = buildDecoderUnet({ ...TINY_UNET, input_dim: 32 }, 4);
    expect(() => new TextToImagePipeline({ ...p, unet: wide })).toThrow(/decoder takes 32-d embeddings, the CLIP makes 16-d ones/);
    new TextToImagePipeline(p).dispose();
    for (const x of [wide]) x.dispose();
  });
});
