// The normalised description of one matmul that every kernel variant consumes, plus the WGSL pieces
// they share: the fused epilogue (bias, activation) and the mapping from an output batch to operands.
import { rt } from '../../runtime/current.ts';
import type { Dispatch } from '../../runtime/runtime.ts';
import { collapseDims, contiguousStrides } from '../../shape.ts';
import type { Params } from '../../wgsl.ts';
import { UNARY, UNARY_PRELUDE, type Activation } from '../unary.ts';

/**
 * C[z] = act(op(A[za]) · op(B[zb]) + bias) for every output batch z, where op transposes when asked.
 * A matrices are stored [M, K] (transA: [K, M]), B matrices [K, N] (transB: [N, K]), C is [M, N],
 * all row-major and packed one after another.
 */
export interface MatmulProblem {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  /** Output batch dims (collapsed, never empty: [1] when unbatched). */
  batchShape: number[];
  /** Per output batch dim, how many A (B) matrices to step: 0 along broadcast dims. */
  aBatchStrides: number[];
  bBatchStrides: number[];
  /** Number of A (B) matrices actually stored. */
  aMatrices: number;
  bMatrices: number;
  hasBias: boolean;
  activation?: Activation;
}

export function batchCount(p: MatmulProblem): number {
  return p.batchShape.reduce((x, y) => x * y, 1);
}

export function makeProblem(
  M: number,
  N: number,
  K: number,
  opts: { transA: boolean; transB: boolean; hasBias: boolean; activation?: Activation },
  outBatch: number[],
  aBatchStrides: number[],
  bBatchStrides: number[],
  aMatrices: number,
  bMatrices: number,
): MatmulProblem {
  const collapsed = collapseDims(outBatch, [contiguousStrides(outBatch), aBatchStrides, bBatchStrides]);
  return {
    M,
    N,
    K,
    ...opts,
    batchShape: collapsed.shape,
    aBatchStrides: collapsed.strides[1],
    bBatchStrides: collapsed.strides[2],
    aMatrices,
    bMatrices,
  };
}

/**
 * WGSL statements defining `aMat` and `bMat` (u32 matrix indices) for the output batch in `zExpr`,
 * with the batch shape and strides read from uniforms (fields `bdD`, `asD`, `bsD` added to `params`
 * by this function), so that one pipeline serves every batch shape of that rank.
 */
export function batchOperandsUniform(p: MatmulProblem, params: Params, zExpr: string): string {
  const rank = p.batchShape.length;
  if (rank === 1 && p.batchShape[0] === 1) return 'let aMat = 0u;\nlet bMat = 0u;';
  const lines = ['var aMat = 0u;', 'var bMat = 0u;', `var rem = ${zExpr};`];
  for (let d = rank - 1; d >= 0; d--) {
    params.u32(`bd${d}`, p.batchShape[d]).u32(`as${d}`, p.aBatchStrides[d]).u32(`bs${d}`, p.bBatchStrides[d]);
    const c = d === 0 ? 'rem' : `rem % p.bd${d}`;
    lines.push(`{ let c = ${c}; aMat += c * p.as${d}; bMat += c * p.bs${d};${d === 0 ? '' : ` rem = rem / p.bd${d};`} }`);
  }
  return lines.join('\n');
}

/**
 * WGSL for the fused epilogue `fn epilogue(v: f32, col: u32) -> f32`: adds bias[col] (binding named
 * `bias`) then applies the activation, with the same formulas as the unary ops.
 */
export function epilogueWgsl(p: MatmulProblem): string {
  const act = p.activation ? UNARY[p.activation].forward : 'x';
  const biasTerm = p.hasBias ? ' + bias[col]' : '';
  return `${p.activation ? UNARY_PRELUDE : ''}
fn epilogue(v: f32, col: u32) -> f32 {
  let x = v${biasTerm};
  return ${act};
}`;
}

/**
 * What a kernel's source takes from the problem besides its own configuration: the epilogue and the
 * batch rank (shapes and strides are uniforms). Part of every matmul kernel's kernelSource key.
 */
export function problemSourceKey(p: MatmulProblem): string {
  const unbatched = p.batchShape.length === 1 && p.batchShape[0] === 1;
  return `${p.hasBias ? 'bias' : ''}+${p.activation ?? ''}:${unbatched ? 0 : p.batchShape.length}`;
}

/** True when the epilogue is the identity (no bias, no activation). */
export function plainEpilogue(p: MatmulProblem): boolean {
  return !p.hasBias && !p.activation;
}

/** WebGPU's minimum of maxComputeWorkgroupsPerDimension; batches beyond it are split across dispatches. */
export const MAX_GROUPS = 65535;

/**
 * Dispatches a matmul kernel over every output batch: the z dimension of the grid is capped at
 * MAX_GROUPS, so larger batches take several dispatches, each with the uniforms `params(z0)` of the
 * batches it starts at (z0).
 */
export function dispatchBatches(
  p: MatmulProblem,
  d: Omit<Dispatch, 'params' | 'workgroups'>,
  workgroups: [number, number],
  params: (z0: number) => ArrayBuffer,
): void {
  const batches = batchCount(p);
  for (let z0 = 0; z0 < batches; z0 += MAX_GROUPS) {
    rt().dispatch({ ...d, params: params(z0), workgroups: [...workgroups, Math.min(MAX_GROUPS, batches - z0)] });
  }
}
