// The paired bootstrap against independent references: a constant paired shift gives a
// zero-width interval at the shift; for the mean of a large normal sample the percentile interval
// matches the normal-theory interval mean ± 1.96·s/√n (computed in float64 here); the quantile rule
// is numpy's linear interpolation; resampling is deterministic for a seed. The seeded comparison of
// two arms against scoreEmbeddings and frechetDistanceOfRows computed directly.
import { describe, expect, it } from 'vitest';
import { bootstrapInterval, compareSeededArms, frechetDistanceOfRows, meanStd, quantile, scoreEmbeddings, verdict } from '@sd/models';
import { makeRng, normal } from '../util/random.ts';

const meanOf = (x: ArrayLike<number>, idx: Int32Array) => {
  let s = 0;
  for (const i of idx) s += x[i];
  return s / idx.length;
};

describe('bootstrap intervals', () => {
  it('a constant paired shift c gives the interval [c, c]: pairing removes the variation the arms share', () => {
    const a = Float64Array.from(normal(makeRng(1), 300, 5));
    const b = a.map((v) => v - 0.25);
    const r = bootstrapInterval(300, (idx) => meanOf(a, idx) - meanOf(b, idx), { resamples: 200 });
    for (const v of [r.estimate, r.low, r.high]) expect(v).toBeCloseTo(0.25, 10);
    expect(verdict(r)).toBe('higher');
  });

  it('the interval of a mean matches mean ± 1.96·s/√n for a large normal sample', () => {
    const n = 2000;
    const x = Float64Array.from(normal(makeRng(7), n, 2)).map((v) => v + 1);
    let mean = 0;
    for (const v of x) mean += v / n;
    let ss = 0;
    for (const v of x) ss += (v - mean) ** 2;
    const half = 1.959964 * Math.sqrt(ss / (n - 1) / n);
    const r = bootstrapInterval(n, (idx) => meanOf(x, idx), { resamples: 2000, seed: 3 });
    expect(r.estimate).toBeCloseTo(mean, 12);
    expect(Math.abs(r.low - (mean - half))).toBeLessThan(0.1 * half);
    expect(Math.abs(r.high - (mean + half))).toBeLessThan(0.1 * half);
    expect(verdict({ estimate: 0, low: -1, high: 2 })).toBe('no difference');
    expect(verdict({ estimate: -2, low: -3, high: -1 })).toBe('lower');
  });

  it("'basic' reflects the percentile quantiles around the estimate; bias is the resamples' mean minus the estimate", () => {
    // The plug-in variance (÷ n) of a normal sample: its resamples' mean is (n − 1)/n of it, so the
    // bootstrap's bias is −variance/n (Monte Carlo error ≈ 0.07 of that at 8000 resamples).
    const n = 20;
    const x = Float64Array.from(normal(makeRng(8), n, 2));
    const variance = (idx: Int32Array) => {
      const m = meanOf(x, idx);
      let ss = 0;
      for (const i of idx) ss += (x[i] - m) ** 2;
      return ss / idx.length;
    };
    const options = { resamples: 8000, seed: 6 };
    const p = bootstrapInterval(n, variance, options);
    const b = bootstrapInterval(n, variance, { ...options, method: 'basic' });
    expect(b.estimate).toBe(p.estimate);
    expect(b.low).toBeCloseTo(2 * p.estimate - p.high, 12);
    expect(b.high).toBeCloseTo(2 * p.estimate - p.low, 12);
    expect(b.bias).toBe(p.bias);
    expect(p.bias).toBeLessThan(0);
    expect(Math.abs(p.bias - -p.estimate / n)).toBeLessThan(0.25 * (p.estimate / n));
  });

  it('is deterministic for a seed and changes with it; bad arguments are named', () => {
    const x = Float64Array.from(normal(makeRng(2), 50));
    const f = (idx: Int32Array) => meanOf(x, idx);
    expect(bootstrapInterval(50, f, { seed: 4 })).toEqual(bootstrapInterval(50, f, { seed: 4 }));
    expect(bootstrapInterval(50, f, { seed: 4 })).not.toEqual(bootstrapInterval(50, f, { seed: 5 }));
    expect(() => bootstrapInterval(0, f)).toThrow(/at least one sample/);
    expect(() => bootstrapInterval(5, f, { level: 1 })).toThrow(/level must be in \(0, 1\)/);
  });

  it('quantile is numpy\'s linear interpolation; meanStd uses n − 1', () => {
    const v = Float64Array.of(1, 2, 3, 4);
    // numpy.quantile([1, 2, 3, 4], [0, 0.25, 0.5, 0.9, 1]) = [1, 1.75, 2.5, 3.7, 4]
    expect([0, 0.25, 0.5, 0.9, 1].map((q) => quantile(v, q))).toEqual([1, 1.75, 2.5, expect.closeTo(3.7, 12), 4]);
    expect(meanStd([2, 4, 4, 4, 5, 5, 7, 9])).toEqual({ mean: 5, std: expect.closeTo(Math.sqrt(32 / 7), 12) });
    expect(meanStd([3])).toEqual({ mean: 3, std: 0 });
  });
});

describe('compareSeededArms', () => {
  const dim = 6;
  const n = 120;
  const rng = makeRng(11);
  const image = normal(rng, n * dim);
  const text = normal(rng, n * dim);
  const real = { image, text, dim, count: n };
  const noisy = (seed: number, std: number) => {
    const e = normal(makeRng(seed), n * dim, std);
    return image.map((v, i) => v + e[i]);
  };

  it('estimates are the mean over seeds of the per-seed metric differences (scoreEmbeddings, frechetDistanceOfRows)', () => {
    const a = [noisy(1, 0.3), noisy(2, 0.3)];
    const b = [noisy(3, 0.8), noisy(4, 0.8)];
    const r = compareSeededArms(a, b, real, { resamples: 100 });
    const diff = (f: (g: Float32Array) => number) => ((f(a[0]) - f(b[0])) + (f(a[1]) - f(b[1]))) / 2;
    expect(r.cosineToImage.estimate).toBeCloseTo(diff((g) => scoreEmbeddings(g, real).cosineToImage), 12);
    expect(r.meanRank.estimate).toBeCloseTo(diff((g) => scoreEmbeddings(g, real).meanRank), 12);
    expect(r.frechet.estimate).toBeCloseTo(diff((g) => frechetDistanceOfRows(g, image, dim)), 10);
    // A is the less noisy arm: better on every metric, beyond the resampling noise.
    expect(r.cosineToImage.verdict).toBe('A better');
    expect(r.meanRank.verdict).toBe('A better');
    expect(r.frechet.verdict).toBe('A better');
  });

  it('identical arms differ by exactly 0 on every resample; mismatched seed counts are refused', () => {
    const a = [noisy(5, 0.5)];
    const r = compareSeededArms(a, [a[0].slice()], real, { resamples: 50 });
    for (const m of Object.values(r)) expect([m.estimate, m.low, m.high, m.verdict]).toEqual([0, 0, 0, 'no difference']);
    expect(() => compareSeededArms(a, [], real)).toThrow(/1 and 0 seeds/);
  });
});
