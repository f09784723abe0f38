// Evaluation of a prior on held-out (text, image) pairs: how close generated image embeddings are
// to the true ones and to the text, and whether they retrieve the right image.
import { generateEmbeddings, type GenerateOptions } from './generate.ts';
import type { EmbeddingPairs } from './data.ts';
import type { PriorBundle } from './train.ts';
import { rowDot, unitRows } from '../math/rows.ts';

export interface PriorMetrics {
  /** Mean cosine between generated and true image embeddings. */
  cosineToImage: number;
  /** Mean cosine between generated image embedding and the text embedding. */
  cosineToText: number;
  /** Fraction of generated embeddings whose nearest held-out image (by cosine) is the true one. */
  recallAt1: number;
  recallAt5: number;
  /** Mean 1-based rank of the true image among all held-out images. */
  meanRank: number;
  count: number;
}

/** Metrics of `generated` embeddings against the pairs they were generated for. */
export function scoreEmbeddings(generated: Float32Array, pairs: EmbeddingPairs): PriorMetrics {
  const { dim, count } = pairs;
  const g = unitRows(generated, dim);
  const img = unitRows(pairs.image, dim);
  const txt = unitRows(pairs.text, dim);
  let cosImg = 0;
  let cosTxt = 0;
  let r1 = 0;
  let r5 = 0;
  let rankSum = 0;
  const dot = (a: Float32Array, i: number, b: Float32Array, j: number) => rowDot(a, i, b, j, dim);
  for (let i = 0; i < count; i++) {
    const own = dot(g, i, img, i);
    cosImg += own;
    cosTxt += dot(g, i, txt, i);
    let rank = 1;
    for (let j = 0; j < count; j++) if (j !== i && dot(g, i, img, j) > own) rank++;
    rankSum += rank;
    if (rank === 1) r1++;
    if (rank <= 5) r5++;
  }
  return { cosineToImage: cosImg / count, cosineToText: cosTxt / count, recallAt1: r1 / count, recallAt5: r5 / count, meanRank: rankSum / count, count };
}

export async function evaluatePrior(bundle: PriorBundle, heldOut: EmbeddingPairs, options: GenerateOptions = {}): Promise<PriorMetrics> {
  const generated = await generateEmbeddings(bundle, heldOut.text, options);
  return scoreEmbeddings(generated, heldOut);
}
