import { describe, expect, it } from 'vitest';
import { ACTIVATIONS, DeviceArray, initRuntime, matmul, profile, rt, runnableVariants, withTuning, type Activation, type MatmulVariant } from '@sd/kernels';
import { expectClose } from '../util/close.ts';
import { makeRng } from '../util/random.ts';
import { sizeOf } from '../util/ref/shape.ts';
import { refMatmul } from '../util/ref/matmul.ts';
import { MATMUL_SHAPES as SHAPES, matmulInputs, matmulK, matmulTolerance, plainMatmul as plain, type MatmulCase as Case } from './cases.ts';

const rng = makeRng(7);

await initRuntime(); // the runnable variants name the tests
const RUNNABLE = runnableVariants(profile()).matmul;

/** Runs one matmul on the device (the adapter's own kernel: 'auto') and compares with the float64 reference. */
async function check(c: Case, variant: MatmulVariant | 'auto'): Promise<void> {
  const { a: av, b: bv, bias: biasv } = matmulInputs(rng, c);
  const a = DeviceArray.from(av, c.a);
  const b = DeviceArray.from(bv, c.b);
  const bias = biasv ? DeviceArray.from(biasv, [biasv.length]) : undefined;
  const tuning = variant === 'auto' ? {} : { matmul: { variant } };
  const y = withTuning(tuning, () => matmul(a, b, { transA: c.transA, transB: c.transB, bias, activation: c.activation }));
  const ref = refMatmul(av, c.a, bv, c.b, { transA: c.transA, transB: c.transB, bias: biasv, activation: c.activation });
  expect(y.shape).toEqual(ref.shape);
  expectClose(await y.read(), ref.data, matmulTolerance(matmulK(c)), `${variant} ${JSON.stringify(c)}`);
  for (const x of [a, b, bias, y]) x?.dispose();
}

describe('matmul', () => {
  it('reports its adapter so that the variant under test is clear', () => {
    expect(['lavapipe', 'nvidia', 'other']).toContain(rt().info.kind);
  });

  // The adapter's own choice ('auto': the texture kernel on lavapipe) gets the full matrix of cases.
  it('auto: shapes with primes, ones and non-multiples of the tiles', async () => {
    for (const s of SHAPES) await check(plain(s), 'auto');
  });

  it('auto: transA / transB combinations', async () => {
    for (const [transA, transB] of [[true, false], [false, true], [true, true]]) {
      const [M, N, K] = [19, 37, 23];
      await check({ a: transA ? [K, M] : [M, K], b: transB ? [N, K] : [K, N], transA, transB }, 'auto');
    }
    await check({ a: [132, 136], b: [200, 132], transA: true, transB: true }, 'auto'); // big tiles
  });

  it('auto: batch broadcasting', async () => {
    await check({ a: [2, 3, 5, 7], b: [3, 7, 6] }, 'auto'); // B broadcast over the leading batch dim
    await check({ a: [5, 7], b: [4, 7, 6] }, 'auto'); // A broadcast
    await check({ a: [2, 1, 5, 7], b: [1, 3, 7, 6] }, 'auto');
    await check({ a: [3, 9, 7], b: [7, 6], bias: true }, 'auto'); // folded into M
    await check({ a: [3, 9, 7], b: [6, 7], transB: true }, 'auto'); // folded, transposed weight
    await check({ a: [2, 3, 7, 9], b: [2, 3, 7, 6], transA: true }, 'auto'); // transA is never folded
    await check({ a: [1, 4, 8], b: [2, 1, 8, 3] }, 'auto');
  });

  it('auto: bias with each activation', async () => {
    const acts: (Activation | undefined)[] = [undefined, ...ACTIVATIONS];
    for (const activation of acts) {
      await check({ a: [2, 13, 20], b: [37, 20], transB: true, bias: true, activation }, 'auto');
    }
    await check({ a: [13, 20], b: [20, 37], activation: 'gelu_erf' }, 'auto'); // activation without bias
  });

  it('lavapipe: A read straight from its buffer (row-major, K a multiple of the k step)', async () => {
    await check({ a: [3, 13, 16], b: [3, 16, 10] }, 'lavapipe'); // batched, M not a multiple of the row tile
    await check({ a: [2, 1, 21, 24], b: [1, 3, 24, 9], bias: true, activation: 'silu' }, 'lavapipe'); // broadcast A and B
    await check({ a: [37, 64], b: [70, 64], transB: true }, 'lavapipe');
    await check({ a: [131, 160], b: [160, 200] }, 'lavapipe'); // big tile config (k step 16)
    await check({ a: [131, 168], b: [168, 200] }, 'lavapipe'); // big tiles, K padded: packed A
  });

  // Every variant this adapter can run ('nvidia' and 'lavapipe' with their large-tile
  // configurations too). Few distinct pipelines each: the 256-thread tiled kernels take seconds to
  // compile on lavapipe.
  describe.each(RUNNABLE)('%s', (variant) => {
    it('odd shapes, vec4-aligned shapes, transposes, batches, bias and activation', async () => {
      for (const s of [[1, 1, 1], [17, 31, 13], [65, 129, 33], [40, 1, 7]] as [number, number, number][]) {
        await check(plain(s), variant);
      }
      await check(plain([64, 64, 64]), variant); // vec4 loads and stores
      await check({ a: [2, 1, 23, 19], b: [1, 3, 37, 23], transA: true, transB: true, bias: true, activation: 'gelu_erf' }, variant);
      await check({ a: [3, 23, 19], b: [3, 23, 37], transA: true }, variant);
      await check({ a: [3, 9, 7], b: [6, 7], transB: true, bias: true, activation: 'relu' }, variant); // folded
      if (variant === 'nvidia' || variant === 'lavapipe') {
        // The large-tile configurations: aligned with both transposes, and ragged.
        await check({ a: [132, 136], b: [200, 132], transA: true, transB: true }, variant);
        await check(plain([130, 200, 150]), variant);
      }
    });
  });

  it('lavapipe: K ≥ 1024 (relaxed tolerance) and batched big tiles', async () => {
    await check({ a: [64, 1030], b: [1030, 72] }, 'lavapipe');
    await check({ a: [3, 40, 96], b: [3, 96, 136], bias: true, activation: 'relu' }, 'lavapipe');
  });

  it('lavapipe: B with more column panels than texture layers uses the row-major layout', async () => {
    const layers = rt().info.limits.maxTextureArrayLayers;
    await check({ a: [65, 1, 4], b: [65, 4, Math.ceil(layers / 64) * 32 + 5] }, 'lavapipe'); // 65 × panels of 32 > layers
  });

  it('lavapipe: A taller than the texture limit is packed in row chunks', async () => {
    const maxDim = rt().info.limits.maxTextureDimension2D;
    await check({ a: [maxDim + 9, 5], b: [5, 3], bias: true }, 'lavapipe');
  });

  it('repeated calls reuse operand textures across shapes and stay correct', async () => {
    for (let i = 0; i < 3; i++) {
      await check(plain([33, 65, 17]), 'auto');
      await check(plain([8, 8, 8]), 'auto');
    }
  });

  it('empty shapes: M = 0, N = 0, an empty batch, and K = 0 (bias and activation of zeros)', async () => {
    const zeros = (shape: number[]) => DeviceArray.from(new Float32Array(sizeOf(shape)), shape);
    expect(matmul(zeros([0, 4]), zeros([4, 3])).shape).toEqual([0, 3]);
    expect(matmul(zeros([2, 4]), zeros([4, 0])).shape).toEqual([2, 0]);
    expect(matmul(zeros([0, 2, 4]), zeros([4, 3])).shape).toEqual([0, 2, 3]);
    const bias = DeviceArray.from([1, -2, 3], [3]);
    const y = matmul(zeros([2, 0]), zeros([0, 3]), { bias, activation: 'relu' });
    expect(Array.from(await y.read())).toEqual([1, 0, 3, 1, 0, 3]);
  });

  it('accepts a bias with leading ones', async () => {
    const a = DeviceArray.from([1, 2, 3, 4], [2, 2]);
    const b = DeviceArray.from([1, 0, 0, 1], [2, 2]);
    const bias = DeviceArray.from([10, 20], [1, 2]);
    expect(Array.from(await matmul(a, b, { bias }).read())).toEqual([11, 22, 13, 24]);
  });

  it('rejects bad shapes before dispatching, naming the op and the shapes', () => {
    const z = (shape: number[]) => DeviceArray.empty(shape);
    expect(() => matmul(z([2, 3]), z([4, 5]))).toThrow('matmul: inner dimensions differ: a [2, 3] and b [4, 5] give K=3 and K=4');
    expect(() => matmul(z([3, 2]), z([4, 5]), { transA: true })).toThrow('a [3, 2] (transA) and b [4, 5]');
    expect(() => matmul(z([2, 2, 3]), z([3, 3, 4]))).toThrow('matmul: batch dimensions [2] and [3] of a [2, 2, 3] and b [3, 3, 4] cannot be broadcast together');
    expect(() => matmul(z([3]), z([3, 4]))).toThrow('matmul: operands need at least 2 dimensions, got a [3] and b [3, 4]');
    expect(() => matmul(z([2, 3]), z([3, 4]), { bias: z([3]) })).toThrow('matmul: bias [3] does not match N=4 of a [2, 3] and b [3, 4]');
    expect(() => matmul(z([2, 3]), DeviceArray.empty([3, 4], 'i32'))).toThrow('matmul: b [3, 4] has dtype i32, expected f32');
  });
});
