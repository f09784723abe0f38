import { describe, expect, it } from 'vitest';
import { DeviceArray, binary, unary, unaryBackward, where, type BinaryOp, type UnaryOp } from '@sd/kernels';
import { expectClose } from '../util/close.ts';
import { erf } from '../util/ref/elementwise.ts';
import { makeRng, uniform } from '../util/random.ts';
import { broadcastShape, broadcastTo, sizeOf } from '../util/ref/shape.ts';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const K = Math.sqrt(2 / Math.PI);

const UNARY_REF: Record<UnaryOp, { f: (x: number) => number; domain: [number, number] }> = {
  neg: { f: (x) => -x, domain: [-3, 3] },
  abs: { f: Math.abs, domain: [-3, 3] },
  exp: { f: Math.exp, domain: [-5, 5] },
  log: { f: Math.log, domain: [0.05, 5] },
  sqrt: { f: Math.sqrt, domain: [0.05, 5] },
  rsqrt: { f: (x) => 1 / Math.sqrt(x), domain: [0.05, 5] },
  square: { f: (x) => x * x, domain: [-3, 3] },
  sin: { f: Math.sin, domain: [-3, 3] },
  cos: { f: Math.cos, domain: [-3, 3] },
  tanh: { f: Math.tanh, domain: [-6, 6] },
  sigmoid: { f: sigmoid, domain: [-8, 8] },
  relu: { f: (x) => Math.max(x, 0), domain: [-3, 3] },
  silu: { f: (x) => x * sigmoid(x), domain: [-6, 6] },
  gelu_tanh: { f: (x) => 0.5 * x * (1 + Math.tanh(K * (x + 0.044715 * x ** 3))), domain: [-5, 5] },
  gelu_erf: { f: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)), domain: [-5, 5] },
  quick_gelu: { f: (x) => x * sigmoid(1.702 * x), domain: [-6, 6] },
};

describe('unary kernels', () => {
  const rng = makeRng(1);
  for (const [op, ref] of Object.entries(UNARY_REF) as [UnaryOp, (typeof UNARY_REF)[UnaryOp]][]) {
    it(`${op}: forward and backward match float64 reference and finite differences`, async () => {
      const shape = [3, 37];
      const xs = uniform(rng, sizeOf(shape), ...ref.domain);
      const gs = uniform(rng, sizeOf(shape));
      const x = DeviceArray.from(xs, shape);
      const g = DeviceArray.from(gs, shape);
      const y = unary(op, x);
      const dx = unaryBackward(op, x, g);
      expect(y.shape).toEqual(shape);
      expectClose(await y.read(), Array.from(xs, ref.f), { rtol: 2e-6, atol: 2e-6 }, `${op} forward`);
      // Gradient: central differences of the float64 reference (h small relative to the domain).
      const h = 1e-6;
      const fd = Array.from(xs, (v, i) => (gs[i] * (ref.f(v + h) - ref.f(v - h))) / (2 * h));
      expectClose(await dx.read(), fd, { rtol: 1e-4, atol: 1e-5 }, `${op} backward`);
      for (const a of [x, g, y, dx]) a.dispose();
    });
  }

  it('tanh, sigmoid and silu stay finite for huge inputs', async () => {
    const x = DeviceArray.from([-1e4, -100, 100, 1e4], [4]);
    expect(await unary('tanh', x).toArray()).toEqual([-1, -1, 1, 1]);
    expect(await unary('sigmoid', x).toArray()).toEqual([0, 0, 1, 1]);
    const silu = await unary('silu', x).toArray();
    expect(silu.every(Number.isFinite)).toBe(true);
  });
});

const BINARY_REF: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => Math.pow(a, b),
  maximum: Math.max,
  minimum: Math.min,
  eq: (a, b) => +(a === b),
  ne: (a, b) => +(a !== b),
  lt: (a, b) => +(a < b),
  le: (a, b) => +(a <= b),
  gt: (a, b) => +(a > b),
  ge: (a, b) => +(a >= b),
};

describe('binary kernels with broadcasting', () => {
  const rng = makeRng(2);
  const shapePairs: [number[], number[]][] = [
    [[7], [7]],
    [[4, 1, 5], [3, 1]],
    [[1], [2, 3, 5]],
    [[2, 1, 3, 1], [1, 4, 1, 6]],
    [[], [13]],
    [[17, 1], [1, 19]],
    [[0, 3], [1, 3]],
  ];
  for (const [op, f] of Object.entries(BINARY_REF) as [BinaryOp, (a: number, b: number) => number][]) {
    it(`${op} over broadcast shapes`, async () => {
      for (const [sa, sb] of shapePairs) {
        const lo = op === 'pow' || op === 'div' ? 0.2 : -2;
        const av = uniform(rng, sizeOf(sa), lo, 2);
        const bv = uniform(rng, sizeOf(sb), lo, 2);
        if (op === 'eq' || op === 'ne') for (let i = 0; i < bv.length; i += 2) bv[i] = av[i % av.length]; // make some equal
        const out = broadcastShape(sa, sb);
        const ea = broadcastTo(av, sa, out);
        const eb = broadcastTo(bv, sb, out);
        const a = DeviceArray.from(av, sa);
        const b = DeviceArray.from(bv, sb);
        const y = binary(op, a, b);
        expect(y.shape).toEqual(out);
        expectClose(await y.read(), Array.from(ea, (v, i) => f(v, eb[i])), { rtol: 2e-6 }, `${op} ${JSON.stringify([sa, sb])}`);
        for (const t of [a, b, y]) t.dispose();
      }
    });
  }

  it('takes scalar operands on either side', async () => {
    const a = DeviceArray.from([1, 2, 3], [3]);
    expect(await binary('sub', a, 1).toArray()).toEqual([0, 1, 2]);
    expect(await binary('sub', 10, a).toArray()).toEqual([9, 8, 7]);
    expect(await binary('pow', a, 2).toArray()).toEqual([1, 4, 9]);
    expect(await binary('pow', DeviceArray.from([-2, -2], [2]), 3).toArray()).toEqual([-8, -8]);
  });

  it('where selects with broadcasting', async () => {
    const c = DeviceArray.from([1, 0, 1], [3, 1]);
    const a = DeviceArray.from([1, 2], [2]);
    expect(await where(c, a, -1).toArray()).toEqual([1, 2, -1, -1, 1, 2]);
  });

  it('rejects incompatible shapes naming the op and shapes', () => {
    const a = DeviceArray.from([1, 2, 3], [3]);
    const b = DeviceArray.from([1, 2], [2]);
    expect(() => binary('add', a, b)).toThrow('add: shapes [3] and [2] cannot be broadcast together');
  });
});
