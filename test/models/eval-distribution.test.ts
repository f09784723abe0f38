// Distribution metrics against answers known in closed form: eigen-decompositions of matrices built
// from chosen eigenvalues, Fréchet distances between Gaussians (diagonal, rotated, non-commuting
// 2×2, and estimated from samples), the unbiased cubic-kernel MMD² against its population value
// from Gaussian moments, and k-NN precision/recall on a hand-checked example.
import { describe, expect, it } from 'vitest';
import { frechetDistance, frechetDistanceGram, frechetDistanceOfRows, kernelInceptionDistance, meanAndCovariance, mmd2Unbiased, precisionRecall, symmetricEigen } from '@sd/models';
import { makeRng, normal } from '../util/random.ts';

/** Standard normal draws from a uniform source (Box–Muller). */
function normals(rng: () => number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng()));
    const t = 2 * Math.PI * rng();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/** A random orthogonal matrix (Gram–Schmidt of Gaussian columns), row-major. */
function orthogonal(rng: () => number, dim: number): Float64Array {
  const q = normals(rng, dim * dim);
  for (let c = 0; c < dim; c++) {
    for (let p = 0; p < c; p++) {
      let dot = 0;
      for (let r = 0; r < dim; r++) dot += q[r * dim + c] * q[r * dim + p];
      for (let r = 0; r < dim; r++) q[r * dim + c] -= dot * q[r * dim + p];
    }
    let norm = 0;
    for (let r = 0; r < dim; r++) norm += q[r * dim + c] ** 2;
    for (let r = 0; r < dim; r++) q[r * dim + c] /= Math.sqrt(norm);
  }
  return q;
}

/** Q diag(values) Qᵀ. */
function compose(q: Float64Array, values: number[]): Float64Array {
  const dim = values.length;
  const out = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) for (let k = 0; k < dim; k++) out[i * dim + j] += q[i * dim + k] * values[k] * q[j * dim + k];
  return out;
}

describe('symmetricEigen', () => {
  it('recovers chosen eigenvalues, and A·v = λ·v for each vector', () => {
    const rng = makeRng(1);
    const values = [5, 2.5, 1, 0.25, 1e-6, 0];
    const a = compose(orthogonal(rng, 6), values);
    const { values: got, vectors } = symmetricEigen(a, 6);
    [...got].sort((x, y) => y - x).forEach((v, i) => expect(Math.abs(v - values[i])).toBeLessThan(1e-12));
    for (let k = 0; k < 6; k++) {
      for (let i = 0; i < 6; i++) {
        let av = 0;
        for (let j = 0; j < 6; j++) av += a[i * 6 + j] * vectors[j * 6 + k];
        expect(Math.abs(av - got[k] * vectors[i * 6 + k])).toBeLessThan(1e-10);
      }
    }
  });
});

describe('frechetDistance', () => {
  it('diagonal covariances: ‖Δμ‖² + Σ(√aᵢ − √bᵢ)², unchanged when both are rotated alike', () => {
    const a = [4, 1, 0.5, 2];
    const b = [1, 1, 2, 0.01];
    const mu1 = [0, 1, 2, 3];
    const mu2 = [1, 1, 0, 3];
    const expected = mu1.reduce((s, m, i) => s + (m - mu2[i]) ** 2, 0) + a.reduce((s, ai, i) => s + (Math.sqrt(ai) - Math.sqrt(b[i])) ** 2, 0);
    const diag = (v: number[]) => compose(Float64Array.from({ length: 16 }, (_, k) => (k % 5 === 0 ? 1 : 0)), v);
    expect(frechetDistance({ mean: mu1, cov: diag(a) }, { mean: mu2, cov: diag(b) }, 4)).toBeCloseTo(expected, 10);
    const q = orthogonal(makeRng(2), 4);
    const rotate = (m: number[]) => Array.from({ length: 4 }, (_, i) => m.reduce((s, v, j) => s + q[i * 4 + j] * v, 0));
    expect(frechetDistance({ mean: rotate(mu1), cov: compose(q, a) }, { mean: rotate(mu2), cov: compose(q, b) }, 4)).toBeCloseTo(expected, 9);
    expect(frechetDistance({ mean: mu1, cov: diag(a) }, { mean: mu1, cov: diag(a) }, 4)).toBeCloseTo(0, 10);
  });

  it('non-commuting 2×2: Tr √S = √(Tr S + 2√det S) against the identity', () => {
    const s = [2, 0.7, 0.7, 1];
    const trSqrt = Math.sqrt(s[0] + s[3] + 2 * Math.sqrt(s[0] * s[3] - s[1] * s[2]));
    const expected = 2 + (s[0] + s[3]) - 2 * trSqrt;
    expect(frechetDistance({ mean: [0, 0], cov: [1, 0, 0, 1] }, { mean: [0, 0], cov: s }, 2)).toBeCloseTo(expected, 12);
    // With a non-identity first covariance the formula (through Σ₁^{1/2} Σ₂ Σ₁^{1/2}) is not written
    // symmetrically, yet the distance is symmetric: Tr (AS)^{1/2} = Tr (SA)^{1/2}.
    const a = [1.5, -0.3, -0.3, 0.8];
    expect(frechetDistance({ mean: [0, 0], cov: a }, { mean: [0, 0], cov: s }, 2)).toBeCloseTo(frechetDistance({ mean: [0, 0], cov: s }, { mean: [0, 0], cov: a }, 2), 12);
  });

  it('estimated from 20,000 samples of two Gaussians, it is near the population value', () => {
    const rng = makeRng(3);
    const n = 20_000;
    const dim = 3;
    const x = normals(rng, n * dim);
    const y = normals(rng, n * dim).map((v, i) => (i % dim === 0 ? 2 * v + 1 : v));
    // Population: Δμ = (1, 0, 0), Σ₁ = I, Σ₂ = diag(4, 1, 1): 1 + (2 − 1)² = 2.
    expect(Math.abs(frechetDistanceOfRows(x, y, dim) - 2)).toBeLessThan(0.1);
  });
});

describe('KID (unbiased cubic-kernel MMD²)', () => {
  // In one dimension k(x, y) = (xy + 1)³ = x³y³ + 3x²y² + 3xy + 1, and for independent x, y its
  // expectation is a product of Gaussian moments: E x = a, E x² = a² + 1, E x³ = a³ + 3a for N(a, 1).
  const moments = (a: number) => [a, a * a + 1, a ** 3 + 3 * a];
  const expectedKernel = (a: number, b: number) => {
    const [x1, x2, x3] = moments(a);
    const [y1, y2, y3] = moments(b);
    return x3 * y3 + 3 * x2 * y2 + 3 * x1 * y1 + 1;
  };
  const population = (a: number, b: number) => expectedKernel(a, a) + expectedKernel(b, b) - 2 * expectedKernel(a, b);

  it('averages to the population MMD² between N(0, 1) and N(0.5, 1), and to 0 within one distribution', () => {
    const rng = makeRng(4);
    const x = normals(rng, 4000);
    const y = normals(rng, 4000).map((v) => v + 0.5);
    const kid = kernelInceptionDistance(x, y, 1, { subsets: 200, subsetSize: 200, random: rng });
    const target = population(0, 0.5);
    expect(Math.abs(kid.mean - target)).toBeLessThan(0.15 * target);
    const same = kernelInceptionDistance(x, normals(rng, 4000), 1, { subsets: 200, subsetSize: 200, random: rng });
    expect(Math.abs(same.mean)).toBeLessThan((3 * same.std) / Math.sqrt(200) + 1e-3);
  });

  it('leaves out the self-similarity terms (a direct count on three points per set)', () => {
    const x = [1, 2, 3];
    const y = [0, -1, 4];
    const k = (p: number, q: number) => (p * q + 1) ** 3;
    let xx = 0;
    let yy = 0;
    let xy = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      if (i !== j) (xx += k(x[i], x[j]), (yy += k(y[i], y[j])));
      xy += k(x[i], y[j]);
    }
    expect(mmd2Unbiased(x, y, 1)).toBeCloseTo(xx / 6 + yy / 6 - (2 * xy) / 9, 10);
  });
});

describe('precisionRecall (k-NN manifolds)', () => {
  it('a hand-checked example', () => {
    // Real 0, 1, 2, 3 with k = 1: every ball has radius 1. Generated 0.5 lies in one, 10 in none:
    // precision 1/2. The generated set's balls have radius 9.5 (each other's distance): they cover
    // every real point: recall 1.
    expect(precisionRecall([0, 1, 2, 3], [0.5, 10], 1, 1)).toEqual({ precision: 0.5, recall: 1 });
    // Identical sets are inside each other's manifolds.
    expect(precisionRecall([0, 0, 1, 1, 5, 5], [0, 0, 1, 1, 5, 5], 2, 1)).toEqual({ precision: 1, recall: 1 });
  });
});

describe('frechetDistanceGram', () => {
  it('equals the covariance route when there are fewer rows than dimensions (n×n instead of d×d)', () => {
    const rng = makeRng(21);
    const dim = 24;
    for (const [n1, n2] of [[9, 14], [15, 6], [10, 10]]) {
      const x = Float64Array.from(normal(rng, n1 * dim));
      const y = Float64Array.from(normal(rng, n2 * dim)).map((v, i) => 0.7 * v + (i % dim) / dim);
      const direct = frechetDistance(meanAndCovariance(x, dim), meanAndCovariance(y, dim), dim);
      // The covariance route takes square roots of d − n eigenvalues that are zero only up to rounding
      // (its matrices have rank < d), which costs it ~1e-8 relative; the Gram route has no such terms.
      expect(Math.abs(frechetDistanceGram(x, y, dim) - direct) / direct).toBeLessThan(1e-7);
      expect(frechetDistanceOfRows(x, y, dim)).toBe(frechetDistanceGram(x, y, dim));
    }
    expect(() => frechetDistanceGram(new Float64Array(24), new Float64Array(48), 24)).toThrow(/at least 2 rows of 24/);
  });
});
