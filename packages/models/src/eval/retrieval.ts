// Retrieval and similarity metrics of host embedding matrices [N, dim]: for each query row, the
// rank of its own target among all targets; and the scores of generated image embeddings against
// their (text, image) pairs. Model-independent: the prior's evaluation and the CLIP's use them.
import { normalizeRowsInPlace, rowDot, unitRows } from '../math/rows.ts';

/** 1-based rank of target row i among all target rows by dot product with query row i (ties rank in the query's favour). */
export function rankOfOwn(queries: Float32Array, targets: Float32Array, i: number, dim: number): number {
  const own = rowDot(queries, i, targets, i, dim);
  let rank = 1;
  for (let j = 0; j < targets.length / dim; j++) if (j !== i && rowDot(queries, i, targets, j, dim) > own) rank++;
  return rank;
}

/** Recall@k of text→image retrieval: for each caption, the rank of its own image among all. Normalises both arrays in place. */
export function retrievalRecall(imageEmb: Float32Array, textEmb: Float32Array, dim: number) {
  const n = imageEmb.length / dim;
  normalizeRowsInPlace(imageEmb, dim);
  normalizeRowsInPlace(textEmb, dim);
  let r1 = 0;
  let r5 = 0;
  for (let i = 0; i < n; i++) {
    const rank = rankOfOwn(textEmb, imageEmb, i, dim);
    if (rank === 1) r1++;
    if (rank <= 5) r5++;
  }
  return { recallAt1: r1 / n, recallAt5: r5 / n, count: n };
}

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

/** Per generated embedding: its cosine to its true image and to its text, and the 1-based rank of its true image among all. */
export interface SampleScores {
  cosineToImage: Float64Array;
  cosineToText: Float64Array;
  rank: Int32Array;
}

export function sampleScores(generated: Float32Array, pairs: { text: Float32Array; image: Float32Array; dim: number; count: number }): SampleScores {
  const { dim, count } = pairs;
  const g = unitRows(generated, dim);
  const img = unitRows(pairs.image, dim);
  const txt = unitRows(pairs.text, dim);
  const out = { cosineToImage: new Float64Array(count), cosineToText: new Float64Array(count), rank: new Int32Array(count) };
  for (let i = 0; i < count; i++) {
    out.cosineToImage[i] = rowDot(g, i, img, i, dim);
    out.cosineToText[i] = rowDot(g, i, txt, i, dim);
    out.rank[i] = rankOfOwn(g, img, i, dim);
  }
  return out;
}

/** The per-sample scores of the samples `indices` (all by default) averaged into PriorMetrics. */
export function summarizeScores(s: SampleScores, indices?: ArrayLike<number>): PriorMetrics {
  const n = indices ? indices.length : s.rank.length;
  let cosImg = 0;
  let cosTxt = 0;
  let r1 = 0;
  let r5 = 0;
  let rankSum = 0;
  for (let k = 0; k < n; k++) {
    const i = indices ? indices[k] : k;
    cosImg += s.cosineToImage[i];
    cosTxt += s.cosineToText[i];
    rankSum += s.rank[i];
    if (s.rank[i] === 1) r1++;
    if (s.rank[i] <= 5) r5++;
  }
  return { cosineToImage: cosImg / n, cosineToText: cosTxt / n, recallAt1: r1 / n, recallAt5: r5 / n, meanRank: rankSum / n, count: n };
}

/** Metrics of `generated` image embeddings against the (text, image) pairs they were generated for. */
export function scoreEmbeddings(generated: Float32Array, pairs: { text: Float32Array; image: Float32Array; dim: number; count: number }): PriorMetrics {
  return summarizeScores(sampleScores(generated, pairs));
}
