// Evaluating a CLIP on held-out procedural images: zero-shot accuracy per attribute (prompt
// ensembles, as CLIP's recipe) and text→image retrieval recall.
import { noGrad, tensor, tidy } from '@sd/autograd';
import { generateSample, groundTruthClass, zeroShotTask, ZERO_SHOT_ATTRIBUTES, type ZeroShotAttribute } from '../data/index.ts';
import type { ContrastiveModel } from './contrastive.ts';
import { preprocessBatch } from './preprocess-batch.ts';
import { tokenize } from './tokenizer.ts';
import { normalizeRowsInPlace } from '../math/rows.ts';

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

export interface ClipEvaluation {
  /** Zero-shot accuracy per attribute on held-out single-object images (unseen shape–colour pairs). */
  zeroShot: Record<ZeroShotAttribute, number>;
  /** The same on single-object images of the training distribution (new samples). */
  zeroShotTrainDistribution: Record<ZeroShotAttribute, number>;
  /** Text→image retrieval over held-out (image, caption) pairs. */
  retrieval: { recallAt1: number; recallAt5: number; count: number };
}

async function zeroShotAccuracy(model: ContrastiveModel, split: 'train' | 'heldout', count: number, dataSeed: number, evalSeed: number) {
  const samples = Array.from({ length: count }, (_, i) => generateSample(evalSeed + i, { seed: dataSeed, split, objectCount: 1 }));
  const imageEmb = await embedImages(model, samples.map((s) => ({ data: s.image, width: s.width, height: s.height })));
  const e = imageEmb.length / count;
  normalizeRowsInPlace(imageEmb, e);
  const result = {} as Record<ZeroShotAttribute, number>;
  for (const attribute of ZERO_SHOT_ATTRIBUTES) {
    const task = zeroShotTask(attribute);
    // Class embedding = normalised mean of its prompt ensemble.
    const classEmb = new Float32Array(task.classes.length * e);
    for (let c = 0; c < task.classes.length; c++) {
      const prompts = normalizeRowsInPlace(await embedTexts(model, task.prompts[c]), e);
      for (let p = 0; p < task.prompts[c].length; p++) for (let d = 0; d < e; d++) classEmb[c * e + d] += prompts[p * e + d];
    }
    normalizeRowsInPlace(classEmb, e);
    let correct = 0;
    samples.forEach((s, i) => {
      let best = -Infinity;
      let pred = -1;
      for (let c = 0; c < task.classes.length; c++) {
        let dot = 0;
        for (let d = 0; d < e; d++) dot += imageEmb[i * e + d] * classEmb[c * e + d];
        if (dot > best) [best, pred] = [dot, c];
      }
      if (pred === groundTruthClass(attribute, s.attributes)) correct++;
    });
    result[attribute] = correct / count;
  }
  return result;
}

/** Recall@k of text→image retrieval: for each caption, the rank of its own image among all. */
export function retrievalRecall(imageEmb: Float32Array, textEmb: Float32Array, dim: number) {
  const n = imageEmb.length / dim;
  normalizeRowsInPlace(imageEmb, dim);
  normalizeRowsInPlace(textEmb, dim);
  let r1 = 0;
  let r5 = 0;
  for (let i = 0; i < n; i++) {
    const score = (j: number) => {
      let s = 0;
      for (let d = 0; d < dim; d++) s += textEmb[i * dim + d] * imageEmb[j * dim + d];
      return s;
    };
    const own = score(i);
    let rank = 1;
    for (let j = 0; j < n; j++) if (j !== i && score(j) > own) rank++;
    if (rank === 1) r1++;
    if (rank <= 5) r5++;
  }
  return { recallAt1: r1 / n, recallAt5: r5 / n, count: n };
}

export async function evaluateClip(model: ContrastiveModel, options: { dataSeed: number; zeroShotCount?: number; retrievalCount?: number; evalSeed?: number }): Promise<ClipEvaluation> {
  const { dataSeed, zeroShotCount = 500, retrievalCount = 1000, evalSeed = 10_000_000 } = options;
  model.eval();
  const zeroShot = await zeroShotAccuracy(model, 'heldout', zeroShotCount, dataSeed, evalSeed);
  const zeroShotTrainDistribution = await zeroShotAccuracy(model, 'train', zeroShotCount, dataSeed, evalSeed);
  const samples = Array.from({ length: retrievalCount }, (_, i) => generateSample(evalSeed + i, { seed: dataSeed, split: 'heldout' }));
  const img = await embedImages(model, samples.map((s) => ({ data: s.image, width: s.width, height: s.height })));
  const txt = await embedTexts(model, samples.map((s) => s.captions[0]));
  const retrieval = retrievalRecall(img, txt, img.length / retrievalCount);
  return { zeroShot, zeroShotTrainDistribution, retrieval };
}
