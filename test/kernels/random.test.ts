import { describe, expect, it } from 'vitest';
import { dropoutMask, philox4x32, randomNormal, randomNormalHost, randomUniform, randomUniformHost } from '@sd/kernels';
import { expectClose } from '../util/close.ts';

/** Standard normal CDF via Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, far below the KS bound). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

describe('philox4x32 reference', () => {
  // Random123's tests/kat_vectors for philox4x32_10 (also used by TensorFlow's and JAX's Philox tests).
  const KAT: Array<[[number, number, number, number], [number, number], [number, number, number, number]]> = [
    [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
    [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
    [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
  ];
  for (const [counter, key, expected] of KAT) {
    it(`matches the known-answer vector for counter ${counter.map((w) => w.toString(16)).join(' ')}`, () => {
      expect(philox4x32(counter, key)).toEqual(expected);
    });
  }
});

describe('randomUniform', () => {
  it('reproduces the first known-answer vector on the GPU (seed 0, offset 0 is counter 0, key 0)', async () => {
    const words = [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8];
    expect(Array.from(await randomUniform([4], 0).read())).toEqual(words.map((w) => (w >>> 8) / 2 ** 24));
  });

  it('equals the host reference bit for bit, for any offset alignment and 64-bit seeds/offsets', async () => {
    const cases: Array<[number[], number, number]> = [
      [[1], 0, 0],
      [[3, 5], 42, 1],
      [[1031], 7, 2],
      [[2, 3, 7], 0xffffffff, 3],
      [[777], 2 ** 40 + 12345, 2 ** 34 - 6], // block counter carries into the high word mid-array
    ];
    for (const [shape, seed, offset] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      const u = randomUniform(shape, seed, offset);
      expect(u.shape).toEqual(shape);
      const got = await u.read();
      expect(Array.from(got), JSON.stringify([shape, seed, offset])).toEqual(Array.from(randomUniformHost(n, seed, offset)));
      expect(got.every((x) => x >= 0 && x < 1)).toBe(true);
    }
  });

  it('is a prefix-consistent stream: offsets continue it, larger shapes extend it', async () => {
    const long = await randomUniform([1000], 9).read();
    expect(Array.from(await randomUniform([10], 9).read())).toEqual(Array.from(long.slice(0, 10)));
    expect(Array.from(await randomUniform([2, 50], 9, 333).read())).toEqual(Array.from(long.slice(333, 433)));
    expect(Array.from(await randomUniform([1000], 9).read())).toEqual(Array.from(long));
  });

  it('differs between seeds and looks uniform', async () => {
    const n = 100_000;
    const a = await randomUniform([n], 1).read();
    const b = await randomUniform([n], 2).read();
    let same = 0;
    for (let i = 0; i < n; i++) if (a[i] === b[i]) same++;
    expect(same).toBeLessThan(10);
    let mean = 0;
    for (const x of a) mean += x / n;
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
  });

  it('handles empty shapes and rejects bad seeds', async () => {
    expect(randomUniform([0, 3], 1).size).toBe(0);
    expect(() => randomUniform([2], -1)).toThrow('randomUniform: seed must be an integer in [0, 2^53), got -1');
  });
});

describe('randomNormal', () => {
  it('has mean 0, variance 1 and passes a Kolmogorov–Smirnov test (n = 100k)', async () => {
    const n = 100_000;
    const z = Float64Array.from(await randomNormal([n], 1234, 5).read());
    let mean = 0;
    for (const x of z) mean += x / n;
    let variance = 0;
    for (const x of z) variance += (x - mean) ** 2 / (n - 1);
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    z.sort();
    let d = 0;
    for (let i = 0; i < n; i++) {
      const f = normalCdf(z[i]);
      d = Math.max(d, (i + 1) / n - f, f - i / n);
    }
    expect(d).toBeLessThan(1.63 / Math.sqrt(n)); // 1% critical value
  });

  it('matches the host reference up to f32 rounding, with mean/std and odd offsets', async () => {
    for (const [n, offset, mean, std] of [[1001, 0, 0, 1], [37, 3, 2, 0.5], [64, 2 ** 33 + 1, -1, 3]]) {
      const got = await randomNormal([n], 77, offset, mean, std).read();
      expectClose(got, randomNormalHost(n, 77, offset, mean, std), { rtol: 1e-5, atol: 2e-5 * std }, `normal ${[n, offset]}`);
    }
    const a = await randomNormal([300], 5).read();
    expect(Array.from(await randomNormal([300], 5).read())).toEqual(Array.from(a));
  });
});

describe('dropoutMask', () => {
  it('drops a fraction p and scales the rest by 1/(1 − p)', async () => {
    const n = 100_000;
    const p = 0.3;
    const mask = await dropoutMask([n], p, 99, 8).read();
    const keep = Math.fround(1 / (1 - p));
    let dropped = 0;
    let other = 0;
    for (const x of mask) {
      if (x === 0) dropped++;
      else if (x !== keep) other++;
    }
    expect(other).toBe(0);
    expect(Math.abs(dropped / n - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
    // Exactly the elements whose stream uniform is below p.
    const u = randomUniformHost(n, 99, 8);
    expect(Array.from(mask).every((x, i) => (x === 0) === (u[i] < Math.fround(p)))).toBe(true);
  });

  it('keeps everything at p = 0 and nothing at p = 1', async () => {
    expect(new Set(await dropoutMask([1000], 0, 1).toArray())).toEqual(new Set([1]));
    expect(new Set(await dropoutMask([1000], 1, 1).toArray())).toEqual(new Set([0]));
    expect(() => dropoutMask([2], 1.5, 1)).toThrow('dropoutMask: p must be in [0, 1], got 1.5 (shape [2])');
  });
});
