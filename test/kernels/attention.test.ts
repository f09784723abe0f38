import { describe, expect, it } from 'vitest';
import {
  DeviceArray,
  attention,
  attentionBackward,
  initRuntime,
  profile,
  releaseAttentionScratch,
  rt,
  runnableVariants,
  withTuning,
  type AttentionVariant,
} from '@sd/kernels';
import { expectClose } from '../util/close.ts';
import { makeRng, type Rng } from '../util/random.ts';
import { attentionBackwardRef, attentionRef } from '../util/ref/attention.ts';
import { ATTENTION_ATOL, ATTENTION_CASES as CASES, attentionInputs as makeInputs, attentionTolerance, everyThird, type AttentionCase as Case } from './cases.ts';

await initRuntime(); // the runnable variants name the tests
const RUNNABLE = runnableVariants(profile()).attention;
/** Runs `fn` with the attention variant `variant` (undefined: the adapter's own). */
const withVariant = <T>(variant: AttentionVariant | undefined, fn: () => T): T => withTuning(variant ? { attention: { variant } } : {}, fn);

/** Runs forward and backward on the GPU and checks both against the float64 reference. */
async function check(c: Case, variant: AttentionVariant | undefined, rng: Rng, atol = ATTENTION_ATOL): Promise<void> {
  const { B, H, Sq, Sk, D } = c.dims;
  const x = makeInputs(rng, c);
  const q = DeviceArray.from(x.q, [B, H, Sq, D]);
  const k = DeviceArray.from(x.k, [B, H, Sk, D]);
  const v = DeviceArray.from(x.v, [B, H, Sk, D]);
  const dout = DeviceArray.from(x.dout, [B, H, Sq, D]);
  const mask = x.mask ? DeviceArray.from(x.mask, [B, Sk]) : undefined;
  const options = { causal: c.causal, scale: c.scale, keyPaddingMask: mask };
  const { out, lse, grads } = withVariant(variant, () => {
    const fwd = attention(q, k, v, options);
    return { ...fwd, grads: attentionBackward(q, k, v, fwd.out, fwd.lse, dout, options) };
  });
  const refOptions = { causal: c.causal, scale: c.scale, mask: x.mask };
  const ref = attentionRef(x.q, x.k, x.v, c.dims, refOptions);
  const refGrads = attentionBackwardRef(x.q, x.k, x.v, x.dout, c.dims, refOptions);
  const what = `${c.name} (${variant ?? 'default'})`;
  expect(out.shape).toEqual([B, H, Sq, D]);
  expect(lse.shape).toEqual([B, H, Sq]);
  const tol = attentionTolerance(atol);
  expectClose(await out.read(), ref.out, tol.out, `${what} out`);
  expectClose(await lse.read(), ref.lse, tol.lse, `${what} lse`);
  expectClose(await grads.dq.read(), refGrads.dq, tol.grad, `${what} dq`);
  expectClose(await grads.dk.read(), refGrads.dk, tol.grad, `${what} dk`);
  expectClose(await grads.dv.read(), refGrads.dv, tol.grad, `${what} dv`);
  for (const a of [q, k, v, dout, mask, out, lse, grads.dq, grads.dk, grads.dv]) a?.dispose();
}

/** Forward on the default variant, forward and backward on the tiled one with rows over 8 lanes. */
async function checkWide(c: Case, rng: Rng): Promise<void> {
  const { B, H, Sq, Sk, D } = c.dims;
  const x = makeInputs(rng, c);
  const q = DeviceArray.from(x.q, [B, H, Sq, D]);
  const k = DeviceArray.from(x.k, [B, H, Sk, D]);
  const v = DeviceArray.from(x.v, [B, H, Sk, D]);
  const mask = x.mask ? DeviceArray.from(x.mask, [B, Sk]) : undefined;
  const { out, lse } = attention(q, k, v, { causal: c.causal, keyPaddingMask: mask });
  const ref = attentionRef(x.q, x.k, x.v, c.dims, { causal: c.causal, mask: x.mask });
  expectClose(await out.read(), ref.out, { rtol: 1e-5, atol: 2e-6 }, `${c.name} out`);
  expectClose(await lse.read(), ref.lse, { rtol: 1e-6, atol: 2e-6 }, `${c.name} lse`);
  for (const a of [q, k, v, mask, out, lse]) a?.dispose();
  await withTuning({ attention: { blocks: { lanes: 8 } } }, () => check(c, 'tiled', rng));
}

describe('attention: forward and backward vs float64 reference', () => {
  const rng = makeRng(11);
  for (const c of CASES) it(c.name, () => check(c, undefined, rng));
  // Cold, lavapipe compiles a wide kernel for seconds to a minute (Mesa caches it on disk after).
  // The default (lavapipe) backward kernels are checked at D = 64; at D = 80 and 128 they take over
  // a minute to compile cold and come from the same generator, so there the default variant runs
  // the forward and the tiled one (rows over 8 lanes: small kernels, padded at D = 80) the rest.
  it('D = 64', () => check({ name: 'D = 64', dims: { B: 1, H: 2, Sq: 33, Sk: 20, D: 64 }, causal: true }, undefined, rng), 300_000);
  it('D = 80, mask', () => checkWide({ name: 'D = 80, mask', dims: { B: 2, H: 1, Sq: 9, Sk: 11, D: 80 }, mask: everyThird }, rng), 300_000);
  it('D = 128', () => checkWide({ name: 'D = 128', dims: { B: 1, H: 2, Sq: 10, Sk: 9, D: 128 }, causal: true }, rng), 300_000);

  it('the portable tiled variant agrees (forced), with rows split over 1, 2 and 4 lanes', async () => {
    await check(CASES[1], 'tiled', rng);
    await withTuning({ attention: { blocks: { lanes: 2 } } }, () =>
      check({ name: 'D = 6, cross 7 × 20, causal, 2 lanes', dims: { B: 1, H: 2, Sq: 7, Sk: 20, D: 6 }, causal: true }, 'tiled', rng),
    );
    // D = 20 is 5 vec4: 4 lanes hold 2 each, the last 3 padding. A 16-row tile spans 2 tiles of keys.
    await withTuning({ attention: { blocks: { lanes: 4, tile: 16 } } }, () =>
      check({ name: 'D = 20, 4 lanes', dims: { B: 2, H: 1, Sq: 19, Sk: 23, D: 20 }, causal: true, mask: everyThird }, 'tiled', rng),
    );
  });

  it('D not a multiple of 4 on the default variant', () =>
    check({ name: 'D = 6', dims: { B: 1, H: 1, Sq: 12, Sk: 19, D: 6 }, mask: everyThird }, undefined, rng));
});

describe('attention: masking edge cases', () => {
  const rng = makeRng(12);

  it('a mask that keeps one key returns that key’s value row', async () => {
    const dims = { B: 2, H: 2, Sq: 6, Sk: 19, D: 8 };
    const keep = [4, 17];
    await check({ name: 'one key', dims, mask: (b, j) => +(j === keep[b]) }, undefined, rng);
    // And directly: out rows equal v[keep], lse is that key's logit.
    const x = makeInputs(rng, { name: '', dims });
    const q = DeviceArray.from(x.q, [2, 2, 6, 8]);
    const k = DeviceArray.from(x.k, [2, 2, 19, 8]);
    const v = DeviceArray.from(x.v, [2, 2, 19, 8]);
    const mask = DeviceArray.from(Float32Array.from({ length: 2 * 19 }, (_, i) => +(i % 19 === keep[Math.floor(i / 19)])), [2, 19]);
    const { out } = attention(q, k, v, { keyPaddingMask: mask });
    const o = await out.read();
    const expected = new Float32Array(o.length);
    for (let bh = 0; bh < 4; bh++) {
      const j = keep[bh >> 1];
      for (let i = 0; i < 6; i++) for (let d = 0; d < 8; d++) expected[(bh * 6 + i) * 8 + d] = x.v[(bh * 19 + j) * 8 + d];
    }
    expectClose(o, expected, { rtol: 1e-6, atol: 1e-7 }, 'one-key out');
    for (const a of [q, k, v, mask, out]) a.dispose();
  });

  it.each(RUNNABLE)('a fully masked row gives out = 0, lse = -inf and zero gradients, never NaN (%s)', async (variant) => {
    const dims = { B: 2, H: 1, Sq: 5, Sk: 11, D: 8 };
    // Batch 0 sees keys 0…3; batch 1 sees none.
    await check({ name: 'fully masked batch', dims, mask: (b, j) => +(b === 0 && j < 4) }, variant, rng);
    const x = makeInputs(rng, { name: '', dims });
    const q = DeviceArray.from(x.q, [2, 1, 5, 8]);
    const k = DeviceArray.from(x.k, [2, 1, 11, 8]);
    const v = DeviceArray.from(x.v, [2, 1, 11, 8]);
    const g = DeviceArray.from(x.dout, [2, 1, 5, 8]);
    const mask = DeviceArray.from(Float32Array.from({ length: 22 }, (_, i) => +(i < 4)), [2, 11]);
    const options = { keyPaddingMask: mask };
    const { out, lse, dq, dk, dv } = withVariant(variant, () => {
      const fwd = attention(q, k, v, options);
      return { ...fwd, ...attentionBackward(q, k, v, fwd.out, fwd.lse, g, options) };
    });
    const o = await out.read();
    const l = await lse.read();
    expect(Array.from(o.subarray(40))).toEqual(new Array(40).fill(0));
    expect(Array.from(l.subarray(5))).toEqual(new Array(5).fill(-Infinity));
    expect(Array.from(l.subarray(0, 5)).every(Number.isFinite)).toBe(true);
    const dqv = await dq.read();
    expect(Array.from(dqv.subarray(40))).toEqual(new Array(40).fill(0));
    for (const grad of [dqv, await dk.read(), await dv.read()]) expect(grad.every(Number.isFinite)).toBe(true);
    for (const a of [q, k, v, g, mask, out, lse, dq, dk, dv]) a.dispose();
  });
});

describe('attention: large logits', () => {
  it('logits of ~1e3…1e4 neither overflow nor lose the softmax', async () => {
    const rng = makeRng(13);
    // |q|, |k| up to 40 with D = 8: logits up to ~4e3 after the 1/√8 scale, spread over thousands,
    // so the softmax is nearly one-hot. A logit is only known to ~|s|·1e-7 in f32, so P (and out)
    // carries that relative error: the tolerances scale with the logit magnitude.
    const c: Case = { name: 'large logits', dims: { B: 1, H: 2, Sq: 13, Sk: 29, D: 8 }, magnitude: 40, causal: true };
    const x = makeInputs(rng, c);
    const q = DeviceArray.from(x.q, [1, 2, 13, 8]);
    const k = DeviceArray.from(x.k, [1, 2, 29, 8]);
    const v = DeviceArray.from(x.v, [1, 2, 29, 8]);
    const { out, lse } = attention(q, k, v, { causal: true });
    const ref = attentionRef(x.q, x.k, x.v, c.dims, { causal: true });
    const maxLogit = Math.max(...Array.from(ref.lse, Math.abs));
    expect(maxLogit).toBeGreaterThan(1e3);
    const o = await out.read();
    expect(o.every(Number.isFinite)).toBe(true);
    expectClose(o, ref.out, { rtol: 0, atol: maxLogit * 4e-6 }, 'large-logit out');
    expectClose(await lse.read(), ref.lse, { rtol: 1e-6, atol: 0 }, 'large-logit lse');
    for (const a of [q, k, v, out, lse]) a.dispose();
  });
});

describe('attention: backward vs finite differences of the GPU forward', () => {
  it('tiny causal, masked case', async () => {
    const rng = makeRng(14);
    const [H, Sq, Sk, D] = [1, 3, 4, 8];
    const c: Case = { name: 'fd', dims: { B: 1, H, Sq, Sk, D }, causal: true, mask: (_b, j) => +(j !== 2) };
    const x = makeInputs(rng, c);
    const w = x.dout; // L = Σ w ⊙ out, so ∂L/∂out = w
    // Every perturbation (±h on one element of q, k or v) is one batch entry of a single forward.
    const tensors = [x.q, x.k, x.v];
    const perturbations: Array<[number, number, number]> = [];
    tensors.forEach((t, which) => {
      for (let i = 0; i < t.length; i++) for (const sign of [1, -1]) perturbations.push([which, i, sign]);
    });
    const h = 1e-2;
    const B = perturbations.length;
    const batch = tensors.map((t) => new Float32Array(B * t.length));
    perturbations.forEach(([which, i, sign], b) => {
      tensors.forEach((t, w2) => batch[w2].set(t, b * t.length));
      batch[which][b * tensors[which].length + i] += sign * h;
    });
    const mask = DeviceArray.from(Float32Array.from({ length: B * Sk }, (_, i) => +(i % Sk !== 2)), [B, Sk]);
    const q = DeviceArray.from(batch[0], [B, H, Sq, D]);
    const k = DeviceArray.from(batch[1], [B, H, Sk, D]);
    const v = DeviceArray.from(batch[2], [B, H, Sk, D]);
    const { out, lse } = attention(q, k, v, { causal: true, keyPaddingMask: mask });
    const o = await out.read();
    const n = H * Sq * D;
    const loss = (b: number) => w.reduce((acc, wi, i) => acc + wi * o[b * n + i], 0);
    const fd = tensors.map((t) => new Float64Array(t.length));
    for (let b = 0; b < B; b += 2) {
      const [which, i] = perturbations[b];
      fd[which][i] = (loss(b) - loss(b + 1)) / (2 * h);
    }
    // The analytic gradients of the unperturbed problem (batch entry 0's inputs are x ± h, so rerun at x).
    const q1 = DeviceArray.from(x.q, [1, H, Sq, D]);
    const k1 = DeviceArray.from(x.k, [1, H, Sk, D]);
    const v1 = DeviceArray.from(x.v, [1, H, Sk, D]);
    const g1 = DeviceArray.from(w, [1, H, Sq, D]);
    const m1 = DeviceArray.from(x.mask!, [1, Sk]);
    const fwd = attention(q1, k1, v1, { causal: true, keyPaddingMask: m1 });
    const grads = attentionBackward(q1, k1, v1, fwd.out, fwd.lse, g1, { causal: true, keyPaddingMask: m1 });
    // f32 forward differences: rounding error ~1e-7/h, truncation ~h².
    expectClose(await grads.dq.read(), fd[0], { rtol: 1e-3, atol: 2e-4 }, 'dq vs finite differences');
    expectClose(await grads.dk.read(), fd[1], { rtol: 1e-3, atol: 2e-4 }, 'dk vs finite differences');
    expectClose(await grads.dv.read(), fd[2], { rtol: 1e-3, atol: 2e-4 }, 'dv vs finite differences');
    // Key 2 is masked: no gradient reaches it.
    const dk = await grads.dk.read();
    expect(Array.from(dk.subarray(2 * D, 3 * D))).toEqual(new Array(D).fill(0));
    for (const a of [mask, q, k, v, out, lse, q1, k1, v1, g1, m1, fwd.out, fwd.lse, grads.dq, grads.dk, grads.dv]) a.dispose();
  });
});

describe('attention: shapes and errors', () => {
  const arr = (shape: number[]) => DeviceArray.from(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);

  it('rejects mismatched shapes before dispatching, naming the op and the shapes', () => {
    const [q, k, v, out] = [arr([1, 2, 4, 8]), arr([1, 2, 5, 8]), arr([1, 2, 5, 8]), arr([1, 2, 4, 8])];
    const [k3, v6, q3, mask, wide, lse5, lse4, dout7] = [
      arr([1, 3, 5, 8]), arr([1, 2, 6, 8]), arr([2, 4, 8]), arr([1, 4]), arr([1, 1, 2, 129]), arr([1, 2, 5]), arr([1, 2, 4]), arr([1, 2, 4, 7]),
    ];
    const before = rt().stats.dispatches;
    expect(() => attention(q, k3, v)).toThrow('attention: k [1, 3, 5, 8] does not match q [1, 2, 4, 8] in B, H or D');
    expect(() => attention(q, k, v6)).toThrow('attention: v [1, 2, 6, 8] must be [B, H, Sk, D] = [1, 2, 5, 8] like k [1, 2, 5, 8]');
    expect(() => attention(q3, k, v)).toThrow('attention: q [2, 4, 8] must have rank 4 [B, H, S, D]');
    expect(() => attention(q, k, v, { keyPaddingMask: mask })).toThrow('attention: keyPaddingMask [1, 4] must be [B, Sk] = [1, 5] for k [1, 2, 5, 8]');
    expect(() => attention(wide, wide, wide)).toThrow('attention: head dimension 129 (q [1, 1, 2, 129]) must be in 1…128');
    expect(() => attentionBackward(q, k, v, out, lse5, out)).toThrow('attentionBackward: lse [1, 2, 5] must be [1, 2, 4]');
    expect(() => attentionBackward(q, k, v, out, lse4, dout7)).toThrow('attentionBackward: dout [1, 2, 4, 7] must be [1, 2, 4, 8]');
    expect(rt().stats.dispatches).toBe(before);
    for (const a of [q, k, v, out, k3, v6, q3, mask, wide, lse5, lse4, dout7]) a.dispose();
  });

  it('works again after its scratch textures are released, even with calls still unsubmitted', async () => {
    const rng = makeRng(15);
    const c: Case = { name: 'release', dims: { B: 1, H: 2, Sq: 9, Sk: 12, D: 8 } };
    await check(c, undefined, rng);
    const x = makeInputs(rng, c);
    const q = DeviceArray.from(x.q, [1, 2, 9, 8]);
    const k = DeviceArray.from(x.k, [1, 2, 12, 8]);
    const first = attention(q, k, k);
    releaseAttentionScratch();
    const second = attention(q, k, k);
    expect(Array.from(await second.out.read())).toEqual(Array.from(await first.out.read()));
    for (const a of [q, k, first.out, first.lse, second.out, second.lse]) a.dispose();
  });

  it('empty batch, and keys of length 0 (every row fully masked)', async () => {
    const empty = attention(arr([0, 2, 4, 8]), arr([0, 2, 5, 8]), arr([0, 2, 5, 8]));
    expect(empty.out.shape).toEqual([0, 2, 4, 8]);
    const q = arr([1, 1, 3, 8]);
    const k = arr([1, 1, 0, 8]);
    const { out, lse } = attention(q, k, k);
    expect(Array.from(await out.read())).toEqual(new Array(24).fill(0));
    expect(Array.from(await lse.read())).toEqual([-Infinity, -Infinity, -Infinity]);
    const g = attentionBackward(q, k, k, out, lse, q);
    expect(Array.from(await g.dq.read())).toEqual(new Array(24).fill(0));
    expect(g.dk.shape).toEqual([1, 1, 0, 8]);
  });
});
