// Gradient checks of the elementwise ops: broadcasting binary arithmetic (tensor and number
// operands), where, and every unary op, against finite differences of float64 references.
import { describe, expect, it } from 'vitest';
import * as ag from '@sd/autograd';
import { tensor, type Tensor } from '@sd/autograd';
import { gradcheck, input, type GradInput } from '../util/gradcheck.ts';
import { makeRng } from '../util/random.ts';
import { REF_UNARY, refBinary, refMap, type RefUnaryName } from '../util/ref/elementwise.ts';

type BinaryName = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum';

const REF_BINARY: Record<BinaryName, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => a ** b,
  maximum: Math.max,
  minimum: Math.min,
};

/** Operand ranges that keep every op smooth (positive bases for pow, divisors away from 0). */
const RANGES: Record<BinaryName, [[number, number], [number, number]]> = {
  add: [[-2, 2], [-2, 2]],
  sub: [[-2, 2], [-2, 2]],
  mul: [[-2, 2], [-2, 2]],
  div: [[-2, 2], [0.5, 2]],
  pow: [[0.5, 2], [-1.5, 1.5]],
  maximum: [[-2, 2], [-2, 2]],
  minimum: [[-2, 2], [-2, 2]],
};

// Same shapes, trailing broadcast, both sides broadcast, 0-d tensors, size-1 dims.
const SHAPE_PAIRS: [number[], number[]][] = [
  [[3, 5], [3, 5]],
  [[2, 3, 4], [4]],
  [[2, 1, 4], [3, 1]],
  [[], [2, 3]],
  [[3, 1], []],
  [[1], [7]],
];

describe('binary arithmetic gradients', () => {
  const rng = makeRng(7);
  for (const op of Object.keys(REF_BINARY) as BinaryName[]) {
    it(`${op}: tensor ⊙ tensor with broadcasting`, async () => {
      const [ra, rb] = RANGES[op];
      for (const [sa, sb] of SHAPE_PAIRS) {
        const a = input(rng, sa, ...ra);
        const b = input(rng, sb, ...rb);
        await gradcheck(
          (x, y) => ag[op](x, y),
          (x, y) => refBinary(REF_BINARY[op], x, sa, y, sb),
          [a, b],
          { what: `${op} ${JSON.stringify(sa)} ${JSON.stringify(sb)}` },
        );
      }
    });

    it(`${op}: number operands on either side`, async () => {
      const [ra, rb] = RANGES[op];
      const shape = [4, 3];
      const left = ra[0] + 0.37 * (ra[1] - ra[0]);
      const right = rb[0] + 0.61 * (rb[1] - rb[0]);
      const f = REF_BINARY[op];
      await gradcheck((x) => ag[op](x, right), (x) => refMap(x, (v) => f(v, right)), [input(rng, shape, ...ra)], { what: `${op}(x, ${right})` });
      await gradcheck((y) => ag[op](left, y), (y) => refMap(y, (v) => f(left, v)), [input(rng, shape, ...rb)], { what: `${op}(${left}, y)` });
    });
  }

  it('the same tensor on both sides gets both contributions (x·x, x/x, x^x)', async () => {
    const x = input(rng, [5], 0.5, 2);
    await gradcheck((t) => ag.mul(t, t), (t) => refMap(t, (v) => v * v), [x], { what: 'x*x' });
    await gradcheck((t) => ag.div(t, t), (t) => refMap(t, () => 1), [x], { what: 'x/x' });
    await gradcheck((t) => ag.pow(t, t), (t) => refMap(t, (v) => v ** v), [x], { what: 'x^x' });
  });

  it('maximum/minimum split the gradient evenly on ties, like PyTorch', async () => {
    await ag.tidy(async () => {
      const a = tensor([1, 2, 3, -1], [4], { requiresGrad: true });
      const b = tensor([1, 0, 3, 5], [4], { requiresGrad: true });
      ag.maximum(a, b).sum().backward();
      expect(await a.grad!.toArray()).toEqual([0.5, 1, 0.5, 0]);
      expect(await b.grad!.toArray()).toEqual([0.5, 0, 0.5, 1]);
      a.grad!.dispose();
      b.grad!.dispose();
      a.grad = b.grad = null;
      ag.minimum(a, b).sum().backward();
      expect(await a.grad!.toArray()).toEqual([0.5, 0, 0.5, 1]);
      expect(await b.grad!.toArray()).toEqual([0.5, 1, 0.5, 0]);
    });
  });

  it('where: gradient goes to the branch taken, with broadcasting and number branches', async () => {
    const condValues = [1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 1, 1];
    const pick = (c: number, a: number, b: number) => (c ? a : b);
    await ag.tidy(async () => {
      const cond = tensor(condValues, [3, 4]);
      await gradcheck(
        (a, b) => ag.where(cond, a, b),
        (a, b) => Float64Array.from(condValues, (c, i) => pick(c, a[i], b[i % 4])),
        [input(rng, [3, 4]), input(rng, [4])],
        { what: 'where(c, a[3,4], b[4])' },
      );
      await gradcheck((a) => ag.where(cond, a, 0.5), (a) => Float64Array.from(condValues, (c, i) => pick(c, a[i], 0.5)), [input(rng, [3, 4])], {
        what: 'where(c, a, 0.5)',
      });
      await gradcheck((b) => ag.where(cond, -2, b), (b) => Float64Array.from(condValues, (c, i) => pick(c, -2, b[i % 4])), [input(rng, [1, 4])], {
        what: 'where(c, -2, b[1,4])',
      });
    });
  });

  it('comparisons produce no gradient history', () => {
    ag.tidy(() => {
      const x = tensor([1, 2], [2], { requiresGrad: true });
      for (const c of [ag.eq(x, 1), ag.ne(x, 1), ag.lt(x, 1), ag.le(x, 1), ag.gt(x, 1), ag.ge(x, 1)]) {
        expect(c.requiresGrad).toBe(false);
        expect(c.node).toBeNull();
      }
    });
  });
});

/** Inputs kept away from each op's kinks and singularities. */
function unaryInput(rng: () => number, name: RefUnaryName, shape: number[]): GradInput {
  const x = input(rng, shape, -3, 3);
  if (name === 'log' || name === 'sqrt' || name === 'rsqrt') x.data = x.data.map((v) => 0.2 + Math.abs(v));
  if (name === 'abs' || name === 'relu') x.data = x.data.map((v) => (Math.abs(v) < 0.05 ? v + 0.2 : v));
  return x;
}

const UNARY_OPS: Record<RefUnaryName, (x: Tensor) => Tensor> = {
  neg: (x) => x.neg(),
  abs: (x) => x.abs(),
  exp: (x) => x.exp(),
  log: (x) => x.log(),
  sqrt: (x) => x.sqrt(),
  rsqrt: (x) => x.rsqrt(),
  square: (x) => x.square(),
  sin: ag.sin,
  cos: ag.cos,
  tanh: (x) => x.tanh(),
  sigmoid: (x) => x.sigmoid(),
  relu: (x) => x.relu(),
  silu: (x) => x.silu(),
  quickGelu: ag.quickGelu,
  gelu: (x) => x.gelu(),
  geluTanh: (x) => x.gelu('tanh'),
};

describe('unary gradients', () => {
  const rng = makeRng(11);
  for (const name of Object.keys(UNARY_OPS) as RefUnaryName[]) {
    it(name, async () => {
      for (const shape of [[1], [3, 7], [2, 2, 5]]) {
        await gradcheck(UNARY_OPS[name], (x) => refMap(x, REF_UNARY[name]), [unaryInput(rng, name, shape)], {
          what: `${name} ${JSON.stringify(shape)}`,
          // erf is approximated on the GPU to ~1e-7 relative.
          forwardAtol: name === 'gelu' ? 2e-6 : 1e-5,
        });
      }
    });
  }

  it('chains compose (exp(sin(x))·sigmoid(x) − x²)', async () => {
    await gradcheck(
      (x) => x.sin().exp().mul(x.sigmoid()).sub(x.square()),
      (x) => refMap(x, (v) => Math.exp(Math.sin(v)) * REF_UNARY.sigmoid(v) - v * v),
      [input(rng, [4, 5], -2, 2)],
      { what: 'composite' },
    );
  });
});
