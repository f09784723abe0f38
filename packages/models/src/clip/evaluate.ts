// Evaluating a CLIP on held-out procedural images: zero-shot accuracy per attribute (prompt
// ensembles scored by the model's own caption probabilities) and text→image retrieval recall. The
// embeddings are computed here; the scoring rules and metrics are in ../eval/.
import { noGrad, tensor, tidy } from '@sd/autograd';
import { generateSample, groundTruthClass, zeroShotTask, ZERO_SHOT_ATTRIBUTES, type SampleAttributes, type ZeroShotAttribute } from '../data/index.ts';
import type { ContrastiveModel } from './contrastive.ts';
import { preprocessBatch } from './preprocess-batch.ts';
import { tokenize } from './tokenizer.ts';
import { normalizeRowsInPlace } from '../math/rows.ts';
import { retrievalRecall } from '../eval/retrieval.ts';
import { classifyZeroShot, type ZeroShotRule } from '../eval/zero-shot.ts';

/** Text embeddings [N, E] of `texts` (as the model outputs them, not normalised), in batches. */
export async function embedTexts(model: ContrastiveModel, texts: string[], batch = 128): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += batch) {
    const chunk = texts.slice(i, i + batch);
    const ids = tokenize(chunk, model.contextLength).ids;
    const out = tidy(() => noGrad(() => model.encodeText(tensor(ids, [chunk.length, model.contextLength], { dtype: 'i32' }))).keep());
    parts.push((await out.read()) as Float32Array);
    out.dispose();
  }
  return concatRows(parts);
}

/** Image embeddings [N, E] of RGB images (not normalised), in batches. */
export async function embedImages(model: ContrastiveModel, images: { data: Uint8Array; width: number; height: number }[], batch = 64): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  const r = model.imageResolution;
  for (let i = 0; i < images.length; i += batch) {
    const chunk = images.slice(i, i + batch);
    const pixels = preprocessBatch(chunk, r);
    const out = tidy(() => noGrad(() => model.encodeImage(tensor(pixels, [chunk.length, 3, r, r]))).keep());
    parts.push((await out.read()) as Float32Array);
    out.dispose();
  }
  return concatRows(parts);
}

function concatRows(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export type Accuracy = Record<ZeroShotAttribute, number>;

export interface ClipEvaluation {
  /** Zero-shot accuracy per attribute ('marginal' rule) on held-out single-object images (unseen shape–colour pairs). */
  zeroShot: Accuracy;
  /** The same on single-object images of the training distribution (new samples). */
  zeroShotTrainDistribution: Accuracy;
  /** Both splits again with the 'mean' rule, for comparison. */
  zeroShotMeanRule: { heldout: Accuracy; train: Accuracy };
  /** Text→image retrieval over held-out (image, caption) pairs. */
  retrieval: { recallAt1: number; recallAt5: number; count: number };
}

/** Accuracy per attribute under each rule, on `count` single-object images of `split`. */
async function zeroShotAccuracy(model: ContrastiveModel, split: 'train' | 'heldout', count: number, dataSeed: number, evalSeed: number): Promise<Record<ZeroShotRule, Accuracy>> {
  const samples = Array.from({ length: count }, (_, i) => generateSample(evalSeed + i, { seed: dataSeed, split, objectCount: 1 }));
  return zeroShotAccuracyOn(model, samples.map((s) => ({ data: s.image, width: s.width, height: s.height })), samples.map((s) => s.attributes));
}

/**
 * Accuracy per attribute under each rule of the model's zero-shot classification of `images`,
 * single-object scenes whose true attributes are `truth` (the same order). Any RGB images: the
 * procedural ones, or what a VAE or decoder made of them.
 */
export async function zeroShotAccuracyOn(model: ContrastiveModel, images: { data: Uint8Array; width: number; height: number }[], truth: SampleAttributes[]): Promise<Record<ZeroShotRule, Accuracy>> {
  if (images.length !== truth.length || images.length === 0) throw new Error(`zeroShotAccuracyOn: ${images.length} images and ${truth.length} attribute sets (must be equal and non-zero)`);
  const count = images.length;
  const imageEmb = await embedImages(model, images);
  const dim = imageEmb.length / count;
  normalizeRowsInPlace(imageEmb, dim);
  const logitScale = Math.exp((await model.logitScale.read())[0]);
  const result: Record<ZeroShotRule, Accuracy> = { marginal: {} as Accuracy, mean: {} as Accuracy };
  for (const attribute of ZERO_SHOT_ATTRIBUTES) {
    const task = zeroShotTask(attribute);
    const classPrompts: Float32Array[] = [];
    for (const prompts of task.prompts) classPrompts.push(normalizeRowsInPlace(await embedTexts(model, prompts), dim));
    const classes = truth.map((t) => groundTruthClass(attribute, t));
    for (const rule of ['marginal', 'mean'] as const) {
      const predicted = classifyZeroShot(imageEmb, classPrompts, dim, rule, logitScale);
      result[rule][attribute] = predicted.filter((c, i) => c === classes[i]).length / count;
    }
  }
  return result;
}

export async function evaluateClip(model: ContrastiveModel, options: { dataSeed: number; zeroShotCount?: number; retrievalCount?: number; evalSeed?: number }): Promise<ClipEvaluation> {
  const { dataSeed, zeroShotCount = 500, retrievalCount = 1000, evalSeed = 10_000_000 } = options;
  model.eval();
  const heldout = await zeroShotAccuracy(model, 'heldout', zeroShotCount, dataSeed, evalSeed);
  const train = await zeroShotAccuracy(model, 'train', zeroShotCount, dataSeed, evalSeed);
  const samples = Array.from({ length: retrievalCount }, (_, i) => generateSample(evalSeed + i, { seed: dataSeed, split: 'heldout' }));
  const img = await embedImages(model, samples.map((s) => ({ data: s.image, width: s.width, height: s.height })));
  const txt = await embedTexts(model, samples.map((s) => s.captions[0]));
  const retrieval = retrievalRecall(img, txt, img.length / retrievalCount);
  return { zeroShot: heldout.marginal, zeroShotTrainDistribution: train.marginal, zeroShotMeanRule: { heldout: heldout.mean, train: train.mean }, retrieval };
}
