// Float64 reference for batched matmul with transposes, bias and the fused activations.
import { erf } from './ref-tensor.ts';
import { broadcastShape, sizeOf, strides } from './reference.ts';

export type RefActivation = 'relu' | 'gelu_tanh' | 'gelu_erf' | 'silu' | 'quick_gelu';


const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export const ACTIVATION_REF: Record<RefActivation, (x: number) => number> = {
  relu: (x) => Math.max(x, 0),
  gelu_tanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  gelu_erf: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  silu: (x) => x * sigmoid(x),
  quick_gelu: (x) => x * sigmoid(1.702 * x),
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
  const N = opts.transB ? b0 : b1;
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
  const act = opts.activation ? ACTIVATION_REF[opts.activation] : (x: number) => x;
  const out = new Float64Array(batches * M * N);
  for (let z = 0; z < batches; z++) {
    const aBase = matIndex(aBatch, z) * M * K;
    const bBase = matIndex(bBatch, z) * K * N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = a[aBase + (opts.transA ? k * M + i : i * K + k)];
          const bv = b[bBase + (opts.transB ? j * K + k : k * N + j)];
          s += av * bv;
        }
        out[z * M * N + i * N + j] = act(s + (opts.bias ? opts.bias[j] : 0));
      }
    }
  }
  return { data: out, shape: [...outBatch, M, N] };
}
