// The trivial arms and the arm scores: the ridge map recovers a known affine map, its Cholesky solve
// a known solution, and the real held-out images scored as if generated are perfect (Fréchet
// distance 0, precision and recall 1) while a shifted copy is not.
import { describe, expect, it } from 'vitest';
import { fitRidgeMap, scoreArm, solveSymmetric } from '@sd/models';
import { makeRng, uniform } from '../util/random.ts';

describe('trivial arms', () => {
  it('solveSymmetric solves a positive-definite system', () => {
    // A = [[4, 2], [2, 3]], X = [[1, -1], [2, 0.5]] → B = A·X.
    const a = Float64Array.from([4, 2, 2, 3]);
    const x = [1, -1, 2, 0.5];
    const b = Float64Array.from([4 * 1 + 2 * 2, 4 * -1 + 2 * 0.5, 2 * 1 + 3 * 2, 2 * -1 + 3 * 0.5]);
    solveSymmetric(a, b, 2, 2).forEach((v, i) => expect(v).toBeCloseTo(x[i], 12));
    expect(() => solveSymmetric(Float64Array.from([1, 2, 2, 1]), b, 2, 2)).toThrow(/not positive definite/);
  });

  it('the ridge map recovers an affine text → image map from noiseless pairs', () => {
    const rng = makeRng(7);
    const dim = 5;
    const count = 400;
    const text = uniform(rng, count * dim, -1, 1);
    const w = uniform(rng, dim * dim, -1, 1);
    const bias = uniform(rng, dim, -0.5, 0.5);
    const apply = (t: Float32Array) => {
      const out = new Float32Array(t.length);
      for (let r = 0; r < t.length / dim; r++) for (let j = 0; j < dim; j++) {
        let s = bias[j];
        for (let i = 0; i < dim; i++) s += t[r * dim + i] * w[i * dim + j];
        out[r * dim + j] = s;
      }
      return out;
    };
    const map = fitRidgeMap({ text, image: apply(text), dim, count });
    const probe = uniform(rng, 10 * dim, -1, 1);
    const want = apply(probe);
    // λ = 1e-3 of the mean diagonal shrinks the map by about that much.
    map(probe).forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(5e-3));
  });

  it('the real images scored as generated are perfect; a shifted copy is not', () => {
    const rng = makeRng(8);
    const dim = 4;
    const count = 60;
    const image = uniform(rng, count * dim, -1, 1);
    const text = uniform(rng, count * dim, -1, 1);
    const same = scoreArm(image, { text, image, dim, count });
    expect(same.frechet).toBeCloseTo(0, 9);
    expect([same.precision, same.recall, same.recallAt1, same.meanRank]).toEqual([1, 1, 1, 1]);
    const shifted = scoreArm(Float32Array.from(image, (v) => v + 3), { text, image, dim, count });
    // Every coordinate moved by 3: the Fréchet distance is the squared mean shift, 4·9, and no
    // shifted point lies in the real manifold.
    expect(shifted.frechet).toBeCloseTo(36, 6);
    expect(shifted.precision).toBe(0);
  });
});
