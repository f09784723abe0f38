// Paired bootstrap intervals: is arm A better than arm B beyond the noise of which samples (and
// which training seeds) the comparison happened to use? Both arms are scored on the same samples;
// a resample draws sample indices with replacement once and evaluates the difference of the two
// arms' statistics on those same indices (pairing removes the variation the arms share). The
// interval is the percentile interval of the resampled differences (Efron & Tibshirani 1993, §13),
// or, for a statistic that is biased at finite n, the basic interval (below).
import { mulberry32 } from '../data/prng.ts';

export interface Interval {
  /** The statistic on all samples. */
  estimate: number;
  /** Bounds of the interval (a 95% interval by default; see BootstrapOptions.method). */
  low: number;
  high: number;
  /** Mean of the resampled statistic minus the estimate: the bootstrap's estimate of the statistic's bias. */
  bias: number;
}

export interface BootstrapOptions {
  /** Resamples (default 1000). */
  resamples?: number;
  /** Coverage of the interval (default 0.95). */
  level?: number;
  /** Seed of the resampling (default 0): the same seed gives the same interval. */
  seed?: number;
  /**
   * 'percentile' (default): the resampled statistic's quantiles. 'basic': those quantiles reflected
   * around the estimate, [2θ̂ − q_hi, 2θ̂ − q_lo] (Davison & Hinkley 1997, §5.2), which corrects the
   * statistic's bias to first order where the percentile interval adds it a second time. A Fréchet
   * distance is biased upward at finite n, more for the arm whose samples spread more, and a
   * resample's duplicated rows (fewer distinct samples) inflate it further; so FD differences use
   * 'basic'. Its interval is centred near θ̂ − bias, so it may exclude the raw estimate θ̂.
   */
  method?: 'percentile' | 'basic';
}

/**
 * The bootstrap interval of `statistic`, a function of the sample indices it is computed on (e.g.
 * the mean over training seeds of metric(A) − metric(B) on those samples), over `n` samples.
 */
export function bootstrapInterval(n: number, statistic: (indices: Int32Array) => number, options: BootstrapOptions = {}): Interval {
  const { resamples = 1000, level = 0.95, seed = 0, method = 'percentile' } = options;
  if (!Number.isInteger(n) || n < 1) throw new Error(`bootstrapInterval: need at least one sample, got ${n}`);
  if (!(level > 0 && level < 1)) throw new Error(`bootstrapInterval: level must be in (0, 1), got ${level}`);
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const estimate = statistic(all);
  const random = mulberry32(seed);
  const values = new Float64Array(resamples);
  const indices = new Int32Array(n);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) indices[i] = Math.floor(random() * n);
    values[r] = statistic(indices);
  }
  const bias = values.reduce((a, b) => a + b, 0) / resamples - estimate;
  values.sort();
  const [qLow, qHigh] = [quantile(values, (1 - level) / 2), quantile(values, (1 + level) / 2)];
  if (method === 'basic') return { estimate, low: 2 * estimate - qHigh, high: 2 * estimate - qLow, bias };
  return { estimate, low: qLow, high: qHigh, bias };
}

/** Linear-interpolation quantile of sorted values (numpy's default). */
export function quantile(sorted: Float64Array, q: number): number {
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

/** Mean and sample standard deviation (n − 1; 0 for one value). */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.length > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

/** Whether an interval of A − B says A is higher, lower, or cannot tell (it contains 0). */
export function verdict(interval: Pick<Interval, 'low' | 'high'> & Partial<Interval>): 'higher' | 'lower' | 'no difference' {
  if (interval.low > 0) return 'higher';
  if (interval.high < 0) return 'lower';
  return 'no difference';
}
