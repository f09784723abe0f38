// Batched matrix multiplication with a fused epilogue: act(op(A)·op(B) + bias).
// The kernel is the adapter profile's `matmul.variant`: a texture/subgroup kernel on lavapipe, a
// large-tile register-blocked kernel on NVIDIA, a conservative tiled kernel elsewhere (see ops/matmul/).
import { DeviceArray } from '../array.ts';
import { profile } from '../runtime/profile.ts';
import { broadcastShapes, broadcastStrides, fmt, sizeOf } from '../shape.ts';
import { encodeClassic } from './matmul/classic.ts';
import { encodeLavapipe, lavapipeSupports, pickLavapipeConfig } from './matmul/lavapipe.ts';
import { makeProblem, type MatmulProblem } from './matmul/problem.ts';
import { encodeTiled, tiledConfig } from './matmul/tiled.ts';
import { ACTIVATIONS, type Activation } from './unary.ts';

export interface MatmulOptions {
  /** Treat the last two dims of `a` as [K, M] (use Aᵀ). */
  transA?: boolean;
  /** Treat the last two dims of `b` as [N, K] (use Bᵀ), e.g. a PyTorch-style Linear weight [out, in]. */
  transB?: boolean;
  /** Added along N before the activation: shape [N] (leading 1s allowed). */
  bias?: DeviceArray;
  /** Applied last, with the same formulas as the unary ops of that name. */
  activation?: Activation;
}

/**
 * C = activation(op(a) · op(b) + bias) with f32 accumulation.
 * a: [..., M, K] ([..., K, M] with transA); b: [..., K, N] ([..., N, K] with transB); the batch dims
 * broadcast NumPy-style (e.g. [B, M, K] · [K, N]). Returns a new [...batch, M, N] array.
 * Both operands need at least 2 dims: reshape vectors to [1, K] or [K, 1].
 */
export function matmul(a: DeviceArray, b: DeviceArray, options: MatmulOptions = {}): DeviceArray {
  const { transA = false, transB = false, bias, activation } = options;
  const describe = () => `a ${fmt(a.shape)}${transA ? ' (transA)' : ''} and b ${fmt(b.shape)}${transB ? ' (transB)' : ''}`;
  if (a.rank < 2 || b.rank < 2) throw new Error(`matmul: operands need at least 2 dimensions, got ${describe()}`);
  for (const [name, x] of [['a', a], ['b', b], ['bias', bias]] as const) {
    if (x && x.dtype !== 'f32') throw new Error(`matmul: ${name} ${fmt(x.shape)} has dtype ${x.dtype}, expected f32`);
  }
  if (activation !== undefined && !(ACTIVATIONS as readonly string[]).includes(activation)) {
    throw new Error(`matmul: unknown activation '${activation}' (expected one of ${ACTIVATIONS.join(', ')})`);
  }
  const [a0, a1] = a.shape.slice(-2);
  const [b0, b1] = b.shape.slice(-2);
  const [M, K] = transA ? [a1, a0] : [a0, a1];
  const [bK, N] = transB ? [b1, b0] : [b0, b1];
  if (K !== bK) throw new Error(`matmul: inner dimensions differ: ${describe()} give K=${K} and K=${bK}`);

  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  let outBatch: number[];
  try {
    outBatch = broadcastShapes('matmul', aBatch, bBatch);
  } catch {
    throw new Error(`matmul: batch dimensions ${fmt(aBatch)} and ${fmt(bBatch)} of ${describe()} cannot be broadcast together`);
  }
  if (bias && (bias.shape.length === 0 || bias.shape[bias.rank - 1] !== N || bias.size !== N)) {
    throw new Error(`matmul: bias ${fmt(bias.shape)} does not match N=${N} of ${describe()}`);
  }

  const out = DeviceArray.empty([...outBatch, M, N], 'f32', 'matmul');
  if (out.size === 0) return out;

  const aMatrices = sizeOf(aBatch);
  const bMatrices = sizeOf(bBatch);
  const opts = { transA, transB, hasBias: !!bias, activation };
  // Many A matrices against one B (a Linear layer over a batch): fold the batch into M.
  const problem =
    bMatrices === 1 && !transA
      ? makeProblem(aMatrices * M, N, K, opts, [], [], [], 1, 1)
      : makeProblem(M, N, K, opts, outBatch, broadcastStrides(aBatch, outBatch), broadcastStrides(bBatch, outBatch), aMatrices, bMatrices);
  encodeMatmul(problem, a.buffer, b.buffer, bias?.buffer ?? null, out.buffer);
  return out;
}

function encodeMatmul(p: MatmulProblem, a: GPUBuffer, b: GPUBuffer, bias: GPUBuffer | null, out: GPUBuffer): void {
  const { variant, fallback } = profile().matmul;
  switch (variant) {
    case 'lavapipe': {
      const cfg = pickLavapipeConfig(p);
      if (p.K > 0 && lavapipeSupports(p, cfg)) return encodeLavapipe(p, a, b, bias, out, cfg);
      return encodeTiled(p, a, b, bias, out, tiledConfig(fallback, p));
    }
    case 'nvidia':
    case 'portable':
      return encodeTiled(p, a, b, bias, out, tiledConfig(variant, p));
    case 'classic':
      return encodeClassic(p, a, b, bias, out);
    default:
      throw new Error(`matmul: unknown variant '${variant}'`);
  }
}
