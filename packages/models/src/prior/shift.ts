// Shift statistics: K clusters of image embeddings (spherical k-means), each with mean μ_k and
// per-dimension std σ_k. The diffusion process is shifted towards N(μ_k, diag((scale·σ_k)²)).
import { unitRows } from '../math/rows.ts';
import { mulberry32 } from '../data/prng.ts';

export interface ShiftStats {
  k: number;
  dim: number;
  /** [k, dim] cluster means (not normalised). */
  mean: Float32Array;
  /** [k, dim] per-dimension standard deviations. */
  std: Float32Array;
  /** Samples per cluster in the data the statistics came from. */
  counts: number[];
}

/** Index of the row of `centers` (unit rows) with the highest cosine similarity to each row of `x`. */
export function nearestByCosine(x: Float32Array, centers: Float32Array, dim: number): Int32Array {
  const n = x.length / dim;
  const k = centers.length / dim;
  const unitX = unitRows(x, dim);
  const unitC = unitRows(centers, dim);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = -Infinity;
    for (let c = 0; c < k; c++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += unitX[i * dim + d] * unitC[c * dim + d];
      if (dot > best) [best, out[i]] = [dot, c];
    }
  }
  return out;
}

/**
 * Spherical k-means on cosine similarity (k-means++ seeding, Lloyd iterations on unit vectors), then
 * μ_k and σ_k of the *raw* embeddings in each cluster. K = 1 gives the global statistics.
 */
export function computeShiftStats(embeddings: Float32Array, dim: number, k: number, options: { iterations?: number; seed?: number; minStd?: number } = {}): ShiftStats {
  const n = embeddings.length / dim;
  if (!Number.isInteger(n) || n === 0) throw new Error(`shift statistics: no embeddings (got ${embeddings.length} values for dim ${dim})`);
  if (!Number.isInteger(k) || k < 1) throw new Error(`shift statistics: K must be a positive integer, got ${k}`);
  if (k > n) throw new Error(`shift statistics: K = ${k} clusters requested but only ${n} samples`);
  const { iterations = 25, seed = 0, minStd = 1e-4 } = options;
  const unit = unitRows(embeddings, dim);
  const random = mulberry32(seed); // k-means++ seeding

  // k-means++ on cosine distance 1 − cos.
  const centers = new Float32Array(k * dim);
  const first = Math.floor(random() * n);
  centers.set(unit.subarray(first * dim, first * dim + dim), 0);
  const dist = new Float64Array(n).fill(Infinity);
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += unit[i * dim + d] * centers[(c - 1) * dim + d];
      dist[i] = Math.min(dist[i], Math.max(0, 1 - dot));
      total += dist[i];
    }
    let pick = n - 1;
    let r = random() * total;
    for (let i = 0; i < n; i++) if ((r -= dist[i]) <= 0) { pick = i; break; }
    centers.set(unit.subarray(pick * dim, pick * dim + dim), c * dim);
  }

  let assign = nearestByCosine(unit, centers, dim);
  for (let it = 0; it < iterations; it++) {
    centers.fill(0);
    const counts = new Array<number>(k).fill(0);
    for (let i = 0; i < n; i++) {
      counts[assign[i]]++;
      for (let d = 0; d < dim; d++) centers[assign[i] * dim + d] += unit[i * dim + d];
    }
    // An empty cluster is re-seeded with a random sample, so every cluster stays populated.
    for (let c = 0; c < k; c++) if (counts[c] === 0) {
      const i = Math.floor(random() * n);
      centers.set(unit.subarray(i * dim, i * dim + dim), c * dim);
    }
    const next = nearestByCosine(unit, centers, dim);
    const changed = next.some((v, i) => v !== assign[i]);
    assign = next;
    if (!changed) break;
  }
  return statsFromAssignment(embeddings, dim, k, assign, minStd);
}

/** μ_k and σ_k (population std, floored at `minStd`) of the raw embeddings per cluster. */
export function statsFromAssignment(embeddings: Float32Array, dim: number, k: number, assign: Int32Array, minStd = 1e-4): ShiftStats {
  const mean = new Float64Array(k * dim);
  const sq = new Float64Array(k * dim);
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < assign.length; i++) {
    const c = assign[i];
    counts[c]++;
    for (let d = 0; d < dim; d++) mean[c * dim + d] += embeddings[i * dim + d];
  }
  for (let c = 0; c < k; c++) for (let d = 0; d < dim; d++) mean[c * dim + d] /= Math.max(counts[c], 1);
  for (let i = 0; i < assign.length; i++) {
    const c = assign[i];
    for (let d = 0; d < dim; d++) sq[c * dim + d] += (embeddings[i * dim + d] - mean[c * dim + d]) ** 2;
  }
  const std = new Float32Array(k * dim);
  for (let c = 0; c < k; c++) for (let d = 0; d < dim; d++) std[c * dim + d] = Math.max(Math.sqrt(sq[c * dim + d] / Math.max(counts[c], 1)), minStd);
  return { k, dim, mean: Float32Array.from(mean), std, counts };
}

/** The unshifted baseline: μ = 0, σ = 1, one cluster. */
export function identityStats(dim: number): ShiftStats {
  return { k: 1, dim, mean: new Float32Array(dim), std: new Float32Array(dim).fill(1), counts: [0] };
}

/** The cluster of each sample: the mean with the highest cosine similarity to its *text* embedding (as the seed does). */
export function assignClusters(stats: ShiftStats, textEmbeddings: Float32Array): Int32Array {
  return nearestByCosine(textEmbeddings, stats.mean, stats.dim);
}
