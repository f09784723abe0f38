// Float64 reference for batched matmul with transposes, bias and the fused activations: the one
// matmul reference of the tests (kernels, autograd gradient checks, the UNet reference's Linear).
import { REF_UNARY } from './elementwise.ts';
import { broadcastShape, sizeOf, strides } from './shape.ts';

export type RefActivation = 'relu' | 'gelu_tanh' | 'gelu_erf' | 'silu' | 'quick_gelu';

export const ACTIVATION_REF: Record<RefActivation, (x: number) => number> = {
  relu: REF_UNARY.relu,
  gelu_tanh: REF_UNARY.geluTanh,
  gelu_erf: REF_UNARY.gelu,
  silu: REF_UNARY.silu,
  quick_gelu: REF_UNARY.quickGelu,
};

export interface RefMatmulOptions {
  transA?: boolean;
  transB?: boolean;
  bias?: ArrayLike<number>;
  activation?: RefActivation;
}

/** act(op(a)·op(b) + bias) in float64, with NumPy batch broadcasting; returns data and shape. */
export function refMatmul(
  a: ArrayLike<number>,
  aShape: readonly number[],
  b: ArrayLike<number>,
  bShape: readonly number[],
  opts: RefMatmulOptions = {},
): { data: Float64Array; shape: number[] } {
  const [a0, a1] = aShape.slice(-2);
  const [b0, b1] = bShape.slice(-2);
  const [M, K] = opts.transA ? [a1, a0] : [a0, a1];
  const [K2, N] = opts.transB ? [b1, b0] : [b0, b1];
  if (K !== K2) throw new Error(`refMatmul: inner dimensions ${K} and ${K2} differ`);
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  const outBatch = broadcastShape(aBatch, bBatch);
  const batches = sizeOf(outBatch);
  const outStrides = strides(outBatch);
  const matIndex = (batch: readonly number[], z: number) => {
    const st = strides(batch);
    const off = outBatch.length - batch.length;
    let m = 0;
    for (let d = 0; d < outBatch.length; d++) {
      const c = Math.floor(z / outStrides[d]) % outBatch[d];
      const bd = d - off;
      if (bd >= 0 && batch[bd] !== 1) m += c * st[bd];
    }
    return m;
  };
  // Element (i, k) of op(a) is a[i·aI + k·aK]; element (k, j) of op(b) is b[k·bK + j·bJ].
  const [aI, aK] = opts.transA ? [1, M] : [K, 1];
  const [bK, bJ] = opts.transB ? [1, K] : [N, 1];
  const act = opts.activation ? ACTIVATION_REF[opts.activation] : (x: number) => x;
  const out = new Float64Array(batches * M * N);
  for (let z = 0; z < batches; z++) {
    const aBase = matIndex(aBatch, z) * M * K;
    const bBase = matIndex(bBatch, z) * K * N;
    for (let i = 0; i < M; i++) {
      const ai = aBase + i * aI;
      for (let j = 0; j < N; j++) {
        const bj = bBase + j * bJ;
        let s = 0;
        for (let k = 0; k < K; k++) s += a[ai + k * aK] * b[bj + k * bK];
        out[z * M * N + i * N + j] = act(s + (opts.bias ? opts.bias[j] : 0));
      }
    }
  }
  return { data: out, shape: [...outBatch, M, N] };
}
