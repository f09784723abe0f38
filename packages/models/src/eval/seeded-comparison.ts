// Shifted vs baseline over several training seeds, with paired bootstrap intervals: for each
// headline metric, the mean over seeds of metric(A) − metric(B) on a resample of the evaluation
// samples (the same indices for both arms and every seed), so an interval that excludes 0 says
// the difference is larger than what the choice of samples and seeds explains.
import { bootstrapInterval, meanStd, verdict, type BootstrapOptions, type Interval } from './bootstrap.ts';
import { frechetDistance, frechetDistanceGram, meanAndCovariance } from './distribution.ts';
import { sampleScores, summarizeScores } from './retrieval.ts';
import { rowsAt } from '../math/rows.ts';
import type { ArmMetrics, Pairs } from './embedding-arms.ts';

/** The metrics compared with intervals, and which direction is better. */
export const COMPARED_METRICS = {
  cosineToImage: 'higher',
  recallAt1: 'higher',
  recallAt5: 'higher',
  meanRank: 'lower',
  frechet: 'lower',
} as const;
export type ComparedMetric = keyof typeof COMPARED_METRICS;

export interface MetricComparison extends Interval {
  /** 'A better', 'B better' or 'no difference' (the interval contains 0). */
  verdict: 'A better' | 'B better' | 'no difference';
}



/**
 * Paired comparison of arm A against arm B, each given as its generated embeddings for `real` from
 * several training seeds (a[s] and b[s] trained with seed s).
 */
export function compareSeededArms(a: Float32Array[], b: Float32Array[], real: Pairs, options: BootstrapOptions & { frechetResamples?: number } = {}): Record<ComparedMetric, MetricComparison> {
  if (a.length === 0 || a.length !== b.length) throw new Error(`compareSeededArms: ${a.length} and ${b.length} seeds (need the same, at least one)`);
  const scoresA = a.map((g) => sampleScores(g, real));
  const scoresB = b.map((g) => sampleScores(g, real));
  const out = {} as Record<ComparedMetric, MetricComparison>;
  for (const metric of Object.keys(COMPARED_METRICS) as ComparedMetric[]) {
    const difference = (indices: Int32Array) => {
      let sum = 0;
      if (metric === 'frechet' && indices.length < real.dim) {
        // Fewer rows than dimensions: the Gram-matrix route, n×n instead of d×d.
        const realRows = rowsAt(real.image, indices, real.dim);
        for (let s = 0; s < a.length; s++) sum += frechetDistanceGram(rowsAt(a[s], indices, real.dim), realRows, real.dim) - frechetDistanceGram(rowsAt(b[s], indices, real.dim), realRows, real.dim);
      } else if (metric === 'frechet') {
        // The real rows' statistics once per resample, shared by every arm and seed.
        const stats = meanAndCovariance(rowsAt(real.image, indices, real.dim), real.dim);
        const fd = (g: Float32Array) => frechetDistance(meanAndCovariance(rowsAt(g, indices, real.dim), real.dim), stats, real.dim);
        for (let s = 0; s < a.length; s++) sum += fd(a[s]) - fd(b[s]);
      } else {
        for (let s = 0; s < a.length; s++) sum += summarizeScores(scoresA[s], indices)[metric] - summarizeScores(scoresB[s], indices)[metric];
      }
      return sum / a.length;
    };
    // The Fréchet distance costs two eigendecompositions per arm and seed: fewer resamples.
    const resamples = metric === 'frechet' ? Math.min(options.resamples ?? 1000, options.frechetResamples ?? 200) : options.resamples;
    // A Fréchet distance is biased at finite n: the basic interval corrects it (see bootstrap.ts).
    const interval = bootstrapInterval(real.count, difference, { ...options, resamples, ...(metric === 'frechet' ? { method: 'basic' as const } : {}) });
    const v = verdict(interval);
    const better = COMPARED_METRICS[metric] === 'higher' ? v === 'higher' : v === 'lower';
    out[metric] = { ...interval, verdict: v === 'no difference' ? 'no difference' : better ? 'A better' : 'B better' };
  }
  return out;
}

/** Mean and standard deviation over seeds of every metric of an arm. */
export function seedSpread(perSeed: ArmMetrics[]): Record<keyof ArmMetrics, { mean: number; std: number }> {
  const keys = Object.keys(perSeed[0]) as (keyof ArmMetrics)[];
  return Object.fromEntries(keys.map((k) => [k, meanStd(perSeed.map((m) => m[k]))])) as Record<keyof ArmMetrics, { mean: number; std: number }>;
}
