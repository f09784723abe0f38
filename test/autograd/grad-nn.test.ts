// Gradient checks of the neural-network ops (matmul, linear, normalisations, conv2d, cross-entropy)
// against finite differences of float64 references, and dropout's mask reproducibility.
import { describe, expect, it } from 'vitest';
import * as ag from '@sd/autograd';
import { Generator, tensor } from '@sd/autograd';
import { randomUniformHost } from '@sd/kernels';
import { gradcheck, input } from '../util/gradcheck.ts';
import { makeRng, randint, uniform } from '../util/random.ts';
import { refConv2d, type RefConvOptions } from '../util/ref/conv.ts';
import { attentionRef } from '../util/ref/attention.ts';
import { refCrossEntropy } from '../util/ref/cross-entropy.ts';
import { REF_UNARY, refMap } from '../util/ref/elementwise.ts';
import { refGroupNorm } from '../util/ref/groupnorm.ts';
import { refMatmul } from '../util/ref/matmul.ts';
import { refLayerNorm, refRmsNorm } from '../util/ref/norm.ts';

describe('matmul and linear gradients', () => {
  const rng = makeRng(17);
  const cases: { a: number[]; b: number[]; transA?: boolean; transB?: boolean }[] = [
    { a: [3, 4], b: [4, 5] },
    { a: [5, 7], b: [7, 9] },
    { a: [2, 3, 4], b: [2, 4, 5] },
    { a: [2, 3, 4], b: [4, 5] },
    { a: [3, 4], b: [2, 4, 5] },
    { a: [2, 1, 3, 4], b: [3, 4, 2] },
    { a: [4, 3], b: [4, 5], transA: true },
    { a: [3, 4], b: [5, 4], transB: true },
    { a: [2, 4, 3], b: [5, 4], transA: true, transB: true },
    { a: [2, 3, 6], b: [2, 5, 6], transB: true },
    { a: [1, 1], b: [1, 1] },
    // 1-D operands, as in torch.matmul: row vector on the left, column vector on the right.
    { a: [4], b: [4, 3] },
    { a: [2, 3, 4], b: [4] },
    { a: [5], b: [5] },
    { a: [3], b: [2, 3, 4] },
  ];
  const as2d = (shape: number[], left: boolean) => (shape.length > 1 ? shape : left ? [1, shape[0]] : [shape[0], 1]);
  for (const c of cases) {
    const opt = { transA: c.transA, transB: c.transB };
    it(`matmul ${JSON.stringify(c.a)}${c.transA ? 'ᵀ' : ''} @ ${JSON.stringify(c.b)}${c.transB ? 'ᵀ' : ''}`, async () => {
      await gradcheck(
        (a, b) => ag.matmul(a, b, opt),
        (a, b) => refMatmul(a, as2d(c.a, true), b, as2d(c.b, false), opt).data,
        [input(rng, c.a), input(rng, c.b)],
        { what: 'matmul' },
      );
    });
  }

  it('1-D operands drop their axis from the result, like torch.matmul', () => {
    ag.tidy(() => {
      const t = (shape: number[]) => ag.zeros(shape);
      expect(ag.matmul(t([4]), t([4, 3])).shape).toEqual([3]);
      expect(ag.matmul(t([2, 3, 4]), t([4])).shape).toEqual([2, 3]);
      expect(ag.matmul(t([5]), t([5])).shape).toEqual([]);
      expect(ag.matmul(t([3]), t([2, 3, 4])).shape).toEqual([2, 4]);
      expect(ag.linear(t([4]), t([5, 4]), t([5])).shape).toEqual([5]);
    });
  });

  it('linear: x @ Wᵀ + b, with and without bias, with activations', async () => {
    const xs = [2, 3, 4];
    const x = input(rng, xs);
    const w = input(rng, [5, 4]);
    const b = input(rng, [5]);
    const affine = (xv: Float64Array, wv: Float64Array, bv?: Float64Array) => refMatmul(xv, xs, wv, [5, 4], { transB: true, bias: bv }).data;
    await gradcheck((x, w, b) => ag.linear(x, w, b), affine, [x, w, b], { what: 'linear with bias' });
    await gradcheck((x, w) => ag.linear(x, w), (xv, wv) => affine(xv, wv), [x, w], { what: 'linear without bias' });
    await gradcheck(
      (x, w, b) => ag.linear(x, w, b),
      (xv, wv, bv) => refMatmul(xv, [1, 4], wv, [5, 4], { transB: true, bias: bv }).data,
      [input(rng, [4]), w, b],
      { what: 'linear of a 1-D input' },
    );
    await gradcheck((x, w, b) => ag.linear(x, w, b, 'gelu_tanh'), (xv, wv, bv) => refMap(affine(xv, wv, bv), REF_UNARY.geluTanh), [x, w, b], {
      what: 'linear + gelu_tanh',
    });
    await gradcheck((x, w, b) => ag.linear(x, w, b, 'silu'), (xv, wv, bv) => refMap(affine(xv, wv, bv), REF_UNARY.silu), [x, w, b], {
      what: 'linear + silu',
    });
  });

  it('linear without gradients (fused epilogue) computes the same values', async () => {
    const xv = uniform(rng, 6 * 4);
    const wv = uniform(rng, 3 * 4);
    const bv = uniform(rng, 3);
    const expected = refMatmul(xv, [6, 4], wv, [3, 4], { transB: true, bias: bv, activation: 'relu' }).data;
    await ag.tidy(async () => {
      const y = ag.noGrad(() => ag.linear(tensor(xv, [6, 4]), tensor(wv, [3, 4], { requiresGrad: true }), tensor(bv, [3]), 'relu'));
      expect(y.requiresGrad).toBe(false);
      const got = await y.read();
      got.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
    });
  });
});

describe('normalisation gradients', () => {
  const rng = makeRng(19);

  it('layerNorm with and without affine parameters', async () => {
    for (const shape of [[3, 8], [2, 3, 5], [4, 1]]) {
      const cols = shape[shape.length - 1];
      const x = input(rng, shape, -2, 2);
      const w = input(rng, [cols], 0.5, 1.5);
      const b = input(rng, [cols]);
      await gradcheck((x, w, b) => ag.layerNorm(x, w, b), (x, w, b) => refLayerNorm(x, cols, w, b, 1e-5), [x, w, b], { what: `layerNorm ${shape}` });
      await gradcheck((x) => ag.layerNorm(x, null, null, 1e-3), (x) => refLayerNorm(x, cols, null, null, 1e-3), [x], { what: `layerNorm no affine ${shape}` });
    }
  });

  it('layerNorm with frozen weight and bias only trains x', async () => {
    await ag.tidy(async () => {
      const x = tensor(uniform(rng, 12), [3, 4], { requiresGrad: true });
      const w = tensor([1, 2, 3, 4], [4]);
      const b = tensor([0, 0, 1, 1], [4]);
      ag.layerNorm(x, w, b).square().sum().backward();
      expect(x.grad).not.toBeNull();
      expect(w.grad).toBeNull();
      expect(b.grad).toBeNull();
    });
  });

  it('rmsNorm with and without weight', async () => {
    for (const shape of [[3, 8], [2, 3, 5]]) {
      const cols = shape[shape.length - 1];
      const x = input(rng, shape, -2, 2);
      const w = input(rng, [cols], 0.5, 1.5);
      await gradcheck((x, w) => ag.rmsNorm(x, w), (x, w) => refRmsNorm(x, cols, w, 1e-6), [x, w], { what: `rmsNorm ${shape}` });
      await gradcheck((x) => ag.rmsNorm(x, null), (x) => refRmsNorm(x, cols, null, 1e-6), [x], { what: `rmsNorm no weight ${shape}` });
    }
  });
});

describe('groupNorm gradients', () => {
  const rng = makeRng(43);
  const cases: { shape: number[]; groups: number }[] = [
    { shape: [2, 6, 3, 4], groups: 3 },
    { shape: [1, 4, 5, 5], groups: 1 },
    { shape: [2, 4, 3, 3], groups: 4 },
    { shape: [3, 6], groups: 2 },
    { shape: [1, 8, 2, 3, 2], groups: 2 },
  ];
  for (const { shape, groups } of cases) {
    for (const silu of [false, true]) {
      it(`x ${JSON.stringify(shape)}, ${groups} groups${silu ? ', fused SiLU' : ''}`, async () => {
        const c = shape[1];
        const x = input(rng, shape, -2, 2);
        const w = input(rng, [c], 0.5, 1.5);
        const b = input(rng, [c], -0.5, 0.5);
        await gradcheck(
          (x, w, b) => ag.groupNorm(x, groups, w, b, 1e-5, silu),
          (x, w, b) => refGroupNorm(x, shape, groups, w, b, 1e-5, silu),
          [x, w, b],
          { what: 'groupNorm' },
        );
        await gradcheck(
          (x) => ag.groupNorm(x, groups, null, null, 1e-3, silu),
          (x) => refGroupNorm(x, shape, groups, null, null, 1e-3, silu),
          [x],
          { what: 'groupNorm without affine' },
        );
      });
    }
  }
});

describe('conv2d gradients', () => {
  const rng = makeRng(23);
  const norm = (v: number | [number, number] | undefined, d: number): [number, number] => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v);
  const cases: { x: number[]; w: number[]; stride?: number | [number, number]; padding?: number | [number, number]; dilation?: number; groups?: number; bias: boolean }[] = [
    { x: [2, 3, 5, 6], w: [4, 3, 3, 3], bias: true },
    { x: [1, 4, 7, 7], w: [6, 4, 3, 3], stride: 2, padding: 1, bias: true },
    { x: [2, 4, 5, 5], w: [6, 2, 3, 3], padding: 1, groups: 2, bias: false },
    { x: [1, 2, 6, 7], w: [3, 2, 2, 3], stride: [1, 2], padding: [1, 0], bias: true },
    { x: [1, 2, 7, 7], w: [2, 2, 3, 3], dilation: 2, padding: 2, bias: true },
    { x: [2, 5, 4, 4], w: [3, 5, 1, 1], bias: true },
  ];
  for (const c of cases) {
    it(`conv2d x${JSON.stringify(c.x)} w${JSON.stringify(c.w)} stride ${c.stride ?? 1} pad ${c.padding ?? 0} dil ${c.dilation ?? 1} groups ${c.groups ?? 1}`, async () => {
      const opt: RefConvOptions = { stride: norm(c.stride, 1), padding: norm(c.padding, 0), dilation: norm(c.dilation, 1), groups: c.groups ?? 1 };
      const options = { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups };
      const inputs = [input(rng, c.x), input(rng, c.w), ...(c.bias ? [input(rng, [c.w[0]])] : [])];
      await gradcheck(
        (x, w, b) => ag.conv2d(x, w, b ?? null, options),
        (x, w, b) => refConv2d(x, c.x, w, c.w, b ?? null, opt),
        inputs,
        { what: 'conv2d' },
      );
    });
  }
});

describe('scaledDotProductAttention gradients', () => {
  const rng = makeRng(37);
  const cases: { q: number[]; sk: number; causal?: boolean; mask?: number[]; scale?: number }[] = [
    { q: [1, 2, 5, 4], sk: 5 },
    { q: [2, 1, 6, 8], sk: 6, causal: true },
    { q: [1, 2, 3, 4], sk: 5, causal: true }, // Sq < Sk: top-left aligned
    { q: [2, 2, 4, 4], sk: 5, mask: [1, 1, 0, 1, 0, 1, 0, 1, 1, 1] },
    { q: [2, 1, 5, 4], sk: 5, causal: true, mask: [1, 0, 1, 1, 0, 1, 1, 1, 1, 0], scale: 0.3 },
    { q: [1, 1, 1, 3], sk: 1 },
  ];
  for (const c of cases) {
    const [b, h, , d] = c.q;
    const kv = [b, h, c.sk, d];
    it(`q ${JSON.stringify(c.q)}, Sk ${c.sk}${c.causal ? ', causal' : ''}${c.mask ? ', key padding mask' : ''}${c.scale ? `, scale ${c.scale}` : ''}`, async () => {
      await ag.tidy(async () => {
        const mask = c.mask ? tensor(c.mask, [b, c.sk]) : undefined;
        const options = { causal: c.causal, scale: c.scale, keyPaddingMask: mask };
        await gradcheck(
          (q, k, v) => ag.scaledDotProductAttention(q, k, v, options),
          (q, k, v) => attentionRef(q, k, v, { B: b, H: h, Sq: c.q[2], Sk: c.sk, D: d }, { causal: c.causal, scale: c.scale, mask: c.mask }).out,
          [input(rng, c.q, -2, 2), input(rng, kv, -2, 2), input(rng, kv)],
          { what: 'attention' },
        );
      });
    });
  }
});

describe('self-attention: one tensor as q, k and v', () => {
  it('collects all three gradient contributions', async () => {
    const rng = makeRng(41);
    const shape = [1, 2, 4, 4];
    await gradcheck(
      (x) => ag.scaledDotProductAttention(x, x, x, { causal: true }),
      (x) => attentionRef(x, x, x, { B: 1, H: 2, Sq: 4, Sk: 4, D: 4 }, { causal: true }).out,
      [input(rng, shape, -2, 2)],
      { what: 'self-attention' },
    );
  });
});

describe('cross-entropy gradients', () => {
  const rng = makeRng(29);
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    it(`reduction ${reduction}, with ignored rows, device and host targets`, async () => {
      const classes = 7;
      const targets = Array.from(randint(rng, 6, 0, classes));
      targets[2] = -100;
      const x = input(rng, [6, classes], -3, 3);
      await ag.tidy(async () => {
        const t = tensor(targets, [6], { dtype: 'i32' });
        const cpu = (v: Float64Array) => refCrossEntropy(v, classes, targets, reduction);
        await gradcheck((l) => ag.crossEntropy(l, t, { reduction }), cpu, [x], { what: `crossEntropy ${reduction}` });
        await gradcheck((l) => ag.crossEntropy(l, targets, { reduction }), cpu, [x], { what: `crossEntropy ${reduction} host targets` });
      });
    });
  }

  it('3-d logits [B, S, C] with a custom ignoreIndex', async () => {
    const targets = [0, 4, 1, 3, 3, 2];
    await ag.tidy(async () => {
      const t = tensor(targets, [2, 3], { dtype: 'i32' });
      await gradcheck(
        (l) => ag.crossEntropy(l, t, { ignoreIndex: 3 }),
        (v) => refCrossEntropy(v, 5, targets, 'mean', 3),
        [input(rng, [2, 3, 5], -2, 2)],
        { what: 'crossEntropy 3-d' },
      );
    });
  });

  it('host targets out of range throw before anything runs', () => {
    ag.tidy(() => {
      const logits = tensor(new Float32Array(6), [2, 3], { requiresGrad: true });
      expect(() => ag.crossEntropy(logits, [0, 3])).toThrow(/target 3 at index 1 is out of range for 3 classes/);
    });
  });
});

describe('dropout', () => {
  it('the mask depends only on the generator state; grad = mask ⊙ g', async () => {
    const shape = [4, 33];
    const n = 4 * 33;
    const p = 0.3;
    const rng = makeRng(31);
    const xv = uniform(rng, n, 0.5, 1.5);
    const gv = uniform(rng, n);
    await ag.tidy(async () => {
      const run = async (g: Generator) => {
        const x = tensor(xv, shape, { requiresGrad: true });
        const y = ag.dropout(x, p, true, g);
        y.backward(tensor(gv, shape));
        return { y: await y.read(), grad: await x.grad!.read() };
      };
      const gen = new Generator(42, 8);
      const first = await run(gen);
      expect(gen.offset).toBeGreaterThanOrEqual(8 + n);
      const again = await run(new Generator(42, 8));
      expect(Array.from(again.y)).toEqual(Array.from(first.y));
      const other = await run(new Generator(42, gen.offset));
      expect(Array.from(other.y)).not.toEqual(Array.from(first.y));

      // The mask is the Philox stream's uniforms at those positions: dropped where u < p.
      const u = randomUniformHost(n, 42, 8);
      const keep = 1 / (1 - p);
      let dropped = 0;
      for (let i = 0; i < n; i++) {
        const mask = u[i] < p ? 0 : keep;
        if (mask === 0) dropped++;
        expect(first.y[i]).toBeCloseTo(xv[i] * mask, 5);
        expect(first.grad[i]).toBeCloseTo(gv[i] * mask, 5);
      }
      expect(dropped / n).toBeGreaterThan(0.15);
      expect(dropped / n).toBeLessThan(0.45);
    });
  });

  it('is the identity in eval mode and for p = 0', () => {
    ag.tidy(() => {
      const x = tensor([1, 2, 3], [3], { requiresGrad: true });
      expect(ag.dropout(x, 0.5, false)).toBe(x);
      expect(ag.dropout(x, 0, true)).toBe(x);
    });
  });
});
