// The text → image pipeline on tiny random models (a tiny CLIP, a prior trained for a few steps on
// random 16-d pairs, a tiny decoder UNet and VAE): determinism for a seed, the trivial arm decoding
// the text embedding itself, unit embeddings, RGBA output, per-stage progress, and clear errors for
// mismatched parts.
import { describe, expect, it } from 'vitest';
import { manualSeed } from '@sd/autograd';
import { TextToImagePipeline, buildDecoderUnet } from '@sd/models';
import { TINY_UNET, tinyPipelineParts } from '../util/tiny-pipeline.ts';

const CAPTIONS = ['a large red star in the top left corner', 'a small blue circle'];

describe('TextToImagePipeline', () => {
  it('decodes the text embedding itself without a prior: unit embeddings, RGBA images, the same for the same seed', async () => {
    const pipeline = new TextToImagePipeline(await tinyPipelineParts(false));
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
    // Without a prior, the prior's stage is done at once.
    const seen: string[] = [];
    await pipeline.generate(CAPTIONS.slice(0, 1), { steps: 1, onProgress: (p) => seen.push(`${p.stage} ${p.done}/${p.total}`) });
    expect(seen).toEqual(['text 0/1', 'text 1/1', 'prior 1/1', 'decoder 0/1', 'decoder 1/1', 'vae 0/1', 'vae 1/1']);
    pipeline.dispose();
  });

  it('with a prior, decodes the prior\'s (unit) embeddings, deterministically for a seed', async () => {
    const pipeline = new TextToImagePipeline(await tinyPipelineParts(true));
    const a = await pipeline.generate(CAPTIONS, { steps: 2, priorSteps: 2, seed: 1 });
    const b = await pipeline.generate(CAPTIONS, { steps: 2, priorSteps: 2, seed: 1 });
    expect(Array.from(a.embeddings)).not.toEqual(Array.from(a.textEmbeddings));
    for (let r = 0; r < 2; r++) expect(Math.hypot(...a.embeddings.subarray(r * 16, r * 16 + 16))).toBeCloseTo(1, 5);
    expect(Array.from(a.embeddings)).toEqual(Array.from(b.embeddings));
    expect(a.images.map((im) => Array.from(im))).toEqual(b.images.map((im) => Array.from(im)));
    // Progress: each stage in order, the decoder step by step; watching it changes no result.
    const seen: string[] = [];
    const watched = await pipeline.generate(CAPTIONS, { steps: 2, priorSteps: 2, seed: 1, onProgress: (p) => seen.push(`${p.stage} ${p.done}/${p.total}`) });
    expect(seen).toEqual(['text 0/1', 'text 1/1', 'prior 0/1', 'prior 1/1', 'decoder 0/2', 'decoder 1/2', 'decoder 2/2', 'vae 0/1', 'vae 1/1']);
    expect(watched.images.map((im) => Array.from(im))).toEqual(a.images.map((im) => Array.from(im)));
    // A caption past the tiny CLIP's 16-token context is cut, and reported.
    const long = await pipeline.generate(['a ' + 'very '.repeat(30) + 'long caption'], { steps: 1, priorSteps: 1 });
    expect(long.truncated).toEqual([0]);
    pipeline.dispose();
  });

  it('refuses parts that do not fit together, naming the dimensions', async () => {
    const { priorDir: _, ...p } = await tinyPipelineParts(false);
    manualSeed(3);
    const wide = buildDecoderUnet({ ...TINY_UNET, input_dim: 32 }, 4);
    expect(() => new TextToImagePipeline({ ...p, unet: wide })).toThrow(/decoder takes 32-d embeddings, the CLIP makes 16-d ones/);
    new TextToImagePipeline(p).dispose();
    for (const x of [wide]) x.dispose();
  });
});
