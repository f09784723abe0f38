import { describe, expect, it } from 'vitest';
import { DeviceArray, groupNorm, groupNormBackward } from '@sd/kernels';
import { expectClose } from '../util/close.ts';
import { makeRng, uniform } from '../util/random.ts';
import { refGroupNormBackward, refGroupNormForward, type RefGroupNormParams } from '../util/ref/groupnorm.ts';
import { itRejectsBeforeDispatch, type BadCall } from '../util/rejects.ts';
import { GROUPNORM_CASES as CASES, groupNormInputs as inputs, groupNormSeed, groupNormTolerances } from './cases.ts';

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

describe('groupNorm vs float64 reference', () => {
  CASES.forEach((c, k) => {
    it(c.name, async () => {
      const { xs, ws, bs, dys } = inputs(c, groupNormSeed(k));
      const p: RefGroupNormParams = { shape: c.shape, groups: c.groups, w: ws, b: bs, eps: 1e-5, silu: c.silu };
      const x = DeviceArray.from(xs, c.shape);
      const w = ws ? DeviceArray.from(ws, [c.shape[1]]) : null;
      const b = bs ? DeviceArray.from(bs, [c.shape[1]]) : null;
      const dy = DeviceArray.from(dys, c.shape);
      const out = groupNorm(x, c.groups, w, b, 1e-5, { silu: c.silu });
      const grads = groupNormBackward(dy, x, w, b, out.mean, out.rstd, c.groups, { silu: c.silu });
      expect(out.y.shape).toEqual(c.shape);
      expect(out.mean.shape).toEqual([c.shape[0], c.groups]);
      const ref = refGroupNormForward(xs, p);
      const refGrad = refGroupNormBackward(dys, xs, p);
      const tol = groupNormTolerances(c);
      expectClose(await out.y.read(), ref.y, tol.y, `${c.name}: y`);
      expectClose(await out.mean.read(), ref.mean, tol.mean, `${c.name}: mean`);
      expectClose(await out.rstd.read(), ref.rstd, tol.rstd, `${c.name}: rstd`);
      expectClose(await grads.dx.read(), refGrad.dx, tol.dx, `${c.name}: dx`);
      expect(grads.dweight === null).toBe(!c.weight);
      expect(grads.dbias === null).toBe(!c.bias);
      if (grads.dweight) expectClose(await grads.dweight.read(), refGrad.dw, tol.dweight, `${c.name}: dweight`);
      if (grads.dbias) expectClose(await grads.dbias.read(), refGrad.db, tol.dbias, `${c.name}: dbias`);
      for (const a of [x, w, b, dy, out.y, out.mean, out.rstd, grads.dx, grads.dweight, grads.dbias]) a?.dispose();
    });
  });
});

describe('groupNorm gradients vs finite differences', () => {
  for (const silu of [false, true]) {
    it(`tiny case, affine${silu ? ' + SiLU' : ''}`, async () => {
      const shape = [2, 4, 3, 2];
      const groups = 2;
      const rng = makeRng(silu ? 3 : 4);
      const xs = Float64Array.from(uniform(rng, size(shape), -2, 2));
      const ws = Float64Array.from(uniform(rng, 4, 0.5, 1.5));
      const bs = Float64Array.from(uniform(rng, 4));
      const gs = uniform(rng, size(shape));
      const loss = (xv: Float64Array, wv: Float64Array, bv: Float64Array) =>
        refGroupNormForward(xv, { shape, groups, w: wv, b: bv, eps: 1e-5, silu }).y.reduce((acc, v, i) => acc + v * gs[i], 0);
      // Central differences of the float64 forward.
      const fd = (which: 0 | 1 | 2) => {
        const base = [xs, ws, bs];
        return Array.from(base[which], (_, i) => {
          const h = 1e-6;
          const up = base.map((a) => Float64Array.from(a));
          const down = base.map((a) => Float64Array.from(a));
          up[which][i] += h;
          down[which][i] -= h;
          return (loss(up[0], up[1], up[2]) - loss(down[0], down[1], down[2])) / (2 * h);
        });
      };
      const x = DeviceArray.from(xs, shape);
      const w = DeviceArray.from(ws, [4]);
      const b = DeviceArray.from(bs, [4]);
      const out = groupNorm(x, groups, w, b, 1e-5, { silu });
      const grads = groupNormBackward(DeviceArray.from(gs, shape), x, w, b, out.mean, out.rstd, groups, { silu });
      const tol = { rtol: 1e-3, atol: 1e-4 };
      expectClose(await grads.dx.read(), fd(0), tol, 'dx vs finite differences');
      expectClose(await grads.dweight!.read(), fd(1), tol, 'dweight vs finite differences');
      expectClose(await grads.dbias!.read(), fd(2), tol, 'dbias vs finite differences');
    });
  }
});

describe('groupNorm edge cases and errors', () => {
  it('batch of 0 gives empty outputs and zero parameter gradients', async () => {
    const x = DeviceArray.from([], [0, 4, 3, 3]);
    const w = DeviceArray.from([1, 1, 1, 1], [4]);
    const out = groupNorm(x, 2, w, null);
    expect(out.y.shape).toEqual([0, 4, 3, 3]);
    expect(out.mean.shape).toEqual([0, 2]);
    const grads = groupNormBackward(x, x, w, null, out.mean, out.rstd, 2);
    expect(await grads.dweight!.toArray()).toEqual([0, 0, 0, 0]);
  });

  const t = (s: number[]) => DeviceArray.from(new Float32Array(size(s)), s);
  const bad: BadCall[] = [
    ['groups not dividing C', () => { const x = t([2, 6, 4, 4]); return () => groupNorm(x, 4); },
      /groupNorm: groups = 4 must be a positive integer dividing the 6 channels of input \[2, 6, 4, 4\]/],
    ['zero groups', () => { const x = t([2, 6, 4, 4]); return () => groupNorm(x, 0); }, /groupNorm: groups = 0/],
    ['rank 1 input', () => { const x = t([6]); return () => groupNorm(x, 1); }, /groupNorm: input must be \[N, C, \.\.\.spatial\], got \[6\]/],
    ['weight shape', () => { const [x, w] = [t([2, 6, 4, 4]), t([4])]; return () => groupNorm(x, 2, w); },
      /groupNorm: weight must be f32 \[6\] for input \[2, 6, 4, 4\], got f32 \[4\]/],
    ['bias shape', () => { const [x, b] = [t([2, 6, 4, 4]), t([6, 1])]; return () => groupNorm(x, 2, null, b); },
      /groupNorm: bias must be f32 \[6\] for input \[2, 6, 4, 4\], got f32 \[6, 1\]/],
    ['dy shape', () => { const [dy, x, s] = [t([2, 6, 4, 3]), t([2, 6, 4, 4]), t([2, 2])]; return () => groupNormBackward(dy, x, null, null, s, s, 2); },
      /groupNormBackward: dy f32 \[2, 6, 4, 3\] must be f32 with the shape of input \[2, 6, 4, 4\]/],
    ['stats shape', () => { const [x, m, r] = [t([2, 6, 4, 4]), t([2, 3]), t([2, 2])]; return () => groupNormBackward(x, x, null, null, m, r, 2); },
      /groupNormBackward: mean must be f32 \[2, 2\] \(the groupNorm output\), got f32 \[2, 3\]/],
  ];
  itRejectsBeforeDispatch(bad);
});
