import { describe, expect, it } from 'vitest';
import { DeviceArray, layerNorm, layerNormBackward, rmsNorm, rmsNormBackward, withTuning } from '@sd/kernels';
import { expectClose } from '../util/close.ts';
import { centralDifferences } from '../util/finite-diff.ts';
import { makeRng, normal, uniform, type Rng } from '../util/random.ts';
import { refNormWithGrads } from '../util/ref/norm.ts';
import { OTHER_ADAPTER_REDUCE } from '../util/tunings.ts';

interface Case {
  shape: number[];
  affine: 'none' | 'weight' | 'both';
  offset?: number;
}

async function check(rng: Rng, { shape, affine, offset = 0 }: Case, rms: boolean) {
  const cols = shape[shape.length - 1];
  const n = shape.reduce((a, b) => a * b, 1);
  const eps = 1e-5;
  const xs = normal(rng, n, 1).map((v) => v + offset);
  const dys = uniform(rng, n, -1, 1);
  const ws = affine === 'none' ? null : uniform(rng, cols, 0.5, 1.5);
  const bs = affine === 'both' && !rms ? uniform(rng, cols, -1, 1) : null;
  const ref = refNormWithGrads(xs, cols, eps, rms, ws, bs, dys);
  const x = DeviceArray.from(xs, shape);
  const dy = DeviceArray.from(dys, shape);
  const w = ws ? DeviceArray.from(ws, [cols]) : null;
  const b = bs ? DeviceArray.from(bs, [cols]) : null;
  const what = `${rms ? 'rmsNorm' : 'layerNorm'} ${JSON.stringify(shape)} ${affine} offset=${offset}`;
  let grads;
  let saved: DeviceArray[];
  if (rms) {
    const { y, rstd } = rmsNorm(x, w, eps);
    expectClose(await y.read(), ref.y, { rtol: 1e-5, atol: 1e-5 }, `${what} y`);
    expectClose(await rstd.read(), ref.rstd, { rtol: 1e-5, atol: 0 }, `${what} rstd`);
    grads = rmsNormBackward(dy, x, w, rstd);
    saved = [y, rstd];
  } else {
    const { y, mean, rstd } = layerNorm(x, w, b, eps);
    expect(mean.shape).toEqual(shape.slice(0, -1));
    expectClose(await y.read(), ref.y, { rtol: 1e-5, atol: 1e-5 }, `${what} y`);
    expectClose(await mean.read(), ref.mean, { rtol: 1e-6, atol: 1e-6 }, `${what} mean`);
    expectClose(await rstd.read(), ref.rstd, { rtol: 1e-5, atol: 0 }, `${what} rstd`);
    grads = layerNormBackward(dy, x, w, mean, rstd);
    saved = [y, mean, rstd];
  }
  // An offset of 1000 leaves x known only to f32 spacing (6e-5), so dx gets a looser bound there.
  const dxTol = offset ? { rtol: 1e-4, atol: 1e-4 } : { rtol: 1e-5, atol: 1e-5 };
  expectClose(await grads.dx.read(), ref.dx, dxTol, `${what} dx`);
  expectClose(await grads.dweight!.read(), ref.dw, { rtol: 1e-4, atol: 1e-4 }, `${what} dweight`);
  if (rms) expect(grads.dbias).toBeNull();
  else expectClose(await grads.dbias!.read(), ref.db, { rtol: 1e-4, atol: 1e-4 }, `${what} dbias`);
  for (const a of [x, dy, w, b, grads.dx, grads.dweight, grads.dbias, ...saved]) a?.dispose();
}

const CASES: Case[] = [
  { shape: [1, 1], affine: 'both' },
  { shape: [7], affine: 'weight' },
  { shape: [4, 7], affine: 'both' },
  { shape: [3, 8], affine: 'none' },
  { shape: [2, 3, 64], affine: 'both' },
  { shape: [257, 12], affine: 'both' },
  { shape: [5, 768], affine: 'both' },
  { shape: [6, 1003], affine: 'weight' },
  { shape: [2, 4099], affine: 'both' },
  { shape: [9, 512], affine: 'both', offset: 1000 }, // mean 1000, std 1
  { shape: [5, 37], affine: 'weight', offset: 1000 },
];

describe('layerNorm', () => {
  const rng = makeRng(41);
  it('forward, dx, dweight and dbias match float64 (with large means too)', async () => {
    for (const c of CASES) await check(rng, c, false);
  });

  it('reduces dweight/dbias over many rows in parallel (split column sums)', async () => {
    await check(rng, { shape: [20_000, 12], affine: 'both' }, false);
    await check(rng, { shape: [9_001, 7], affine: 'both' }, false);
  });

  it('dx agrees with central differences of the float64 forward', async () => {
    const cols = 6;
    const xs = normal(rng, 3 * cols, 1);
    const ws = uniform(rng, cols, 0.5, 1.5);
    const bs = uniform(rng, cols, -1, 1);
    const probe = uniform(rng, 3 * cols, -1, 1); // loss = Σ probe ⊙ y
    for (const rms of [false, true]) {
      const loss = (v: ArrayLike<number>) => refNormWithGrads(v, cols, 1e-5, rms, ws, rms ? null : bs, probe).y.reduce((acc, yi, i) => acc + probe[i] * yi, 0);
      const fd = centralDifferences(loss, xs);
      const x = DeviceArray.from(xs, [3, cols]);
      const w = DeviceArray.from(ws, [cols]);
      const dy = DeviceArray.from(probe, [3, cols]);
      const dx = rms
        ? rmsNormBackward(dy, x, w, rmsNorm(x, w, 1e-5).rstd).dx
        : (() => {
            const f = layerNorm(x, w, DeviceArray.from(bs, [cols]), 1e-5);
            return layerNormBackward(dy, x, w, f.mean, f.rstd).dx;
          })();
      expectClose(await dx.read(), fd, { rtol: 1e-4, atol: 1e-5 }, `${rms ? 'rmsNorm' : 'layerNorm'} dx vs finite differences`);
    }
  });

  it('skips parameter gradients when asked, and rejects bad inputs', async () => {
    const x = DeviceArray.from(normal(rng, 8, 1), [2, 4]);
    const { mean, rstd } = layerNorm(x);
    const g = layerNormBackward(x, x, null, mean, rstd, { weightGrad: false, biasGrad: false });
    expect(g.dweight).toBeNull();
    expect(g.dbias).toBeNull();
    expect(() => layerNorm(x, DeviceArray.from([1, 2, 3], [3]))).toThrow('layerNorm: weight [3] (f32) should be f32 of shape [4]');
    expect(() => layerNorm(x, null, null, -1)).toThrow('layerNorm: eps must be a finite number ≥ 0, got -1');
    expect(() => layerNorm(DeviceArray.empty([3, 0]))).toThrow('layerNorm: cannot normalise over an empty last axis (input [3, 0])');
    expect(() => layerNormBackward(x, x, null, rstd.reshape([1, 2]), rstd)).toThrow('layerNormBackward: mean [1, 2] should be [2] for x [2, 4]');
    const empty = layerNorm(DeviceArray.empty([0, 4]));
    expect(empty.y.shape).toEqual([0, 4]);
    expect(empty.mean.shape).toEqual([0]);
  });
});

describe('rmsNorm', () => {
  const rng = makeRng(42);
  it('forward, dx and dweight match float64', async () => {
    // The row machinery is layerNorm's; a subset covers rmsNorm's own kernels.
    for (const c of [CASES[1], CASES[3], CASES[4], CASES[7], CASES[9]]) await check(rng, c, true);
    await check(rng, { shape: [20_000, 12], affine: 'weight' }, true);
  });
});

describe('other adapter configurations, run on this one', () => {
  const rng = makeRng(43);
  it.each(OTHER_ADAPTER_REDUCE)('matches the reference with %j', (reduce) =>
    withTuning({ reduce }, async () => {
      for (const c of [CASES[4], CASES[7], { shape: [9_001, 7], affine: 'both' } as Case]) await check(rng, c, false);
    }),
  );
});
