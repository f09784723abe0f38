// Matrix products with batch broadcasting; each gradient is another matmul with transposes.
import * as K from '@sd/kernels';
import { isGradEnabled } from '../grad-mode.ts';
import { fromOp, Tensor } from '../tensor.ts';
import { unbroadcast } from './arithmetic.ts';
import { sum } from './reduce.ts';
import { reshape } from './views.ts';
import { unaryOp } from './unary.ts';

export type { Activation } from '@sd/kernels';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

/**
 * a @ b over the last two axes (optionally transposed), batch axes broadcast. A 1-D operand is
 * treated as a row (a) or column (b) vector and its axis dropped from the result, like torch.matmul.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  if (a.rank === 1 || b.rank === 1) {
    const a2 = a.rank === 1 ? reshape(a, [1, a.shape[0]]) : a;
    const b2 = b.rank === 1 ? reshape(b, [b.shape[0], 1]) : b;
    const out = matmul(a2, b2, { transA: a.rank === 1 ? false : options.transA, transB: b.rank === 1 ? false : options.transB });
    const shape = [...out.shape];
    if (b.rank === 1) shape.pop();
    if (a.rank === 1) shape.splice(shape.length - (b.rank === 1 ? 1 : 2), 1);
    return reshape(out, shape);
  }
  const { transA = false, transB = false } = options;
  const out = K.matmul(a.data, b.data, { transA, transB });
  // One B for a batch of A matrices (a Linear layer): the kernel folds the batch into M, and B's
  // gradient folds it into K (one GEMM, instead of one per batch item summed afterwards).
  const foldsBatch = b.rank === 2 && a.rank > 2 && !transA;
  return fromOp('matmul', out, [a, b], (g) => {
    const mm = (x: Tensor, y: Tensor, tA: boolean, tB: boolean) => new Tensor(K.matmul(x.data, y.data, { transA: tA, transB: tB }));
    // C = op(A)·op(B); dop(A) = dC·op(B)ᵀ, dop(B) = op(A)ᵀ·dC, then undo the transposes.
    const da = !a.requiresGrad ? null : transA ? mm(b, g, transB, true) : mm(g, b, false, !transB);
    const db = !b.requiresGrad ? null : foldsBatch ? foldedWeightGrad(a, g, transB) : transB ? mm(g, a, true, transA) : mm(a, g, !transA, false);
    return [da && unbroadcast(da, a), db && unbroadcast(db, b)];
  });
}

/**
 * x @ weightᵀ + bias with PyTorch's Linear layout (weight [out, in]). Without gradients the bias
 * and activation are fused into the matmul epilogue; with gradients they are separate ops.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null, activation?: K.Activation): Tensor {
  if (x.rank === 1) return reshape(linear(reshape(x, [1, x.shape[0]]), weight, bias, activation), [weight.shape[0]]);
  const needsGrad = isGradEnabled() && (x.requiresGrad || weight.requiresGrad || !!bias?.requiresGrad);
  if (!needsGrad) return new Tensor(K.matmul(x.data, weight.data, { transB: true, bias: bias?.data, activation }));
  let y = matmul(x, weight, { transB: true });
  if (bias) y = addBias(y, bias);
  // An activation is a UNARY row, the same formula the fused epilogue uses.
  return activation ? unaryOp(activation, y) : y;
}

/** y + bias over the last axis; the bias gradient sums every other axis. */
function addBias(y: Tensor, bias: Tensor): Tensor {
  const out = K.binary('add', y.data, bias.data);
  return fromOp('add_bias', out, [y, bias], (g) => [g, bias.requiresGrad ? sum(g, g.shape.slice(0, -1).map((_, i) => i)) : null]);
}

/** dB of C = A·op(B) for A [..., M, K] with the batch axes folded into rows: [K, N], or [N, K] when transB. */
function foldedWeightGrad(a: Tensor, g: Tensor, transB: boolean): Tensor {
  const rows = (x: Tensor) => x.data.reshape([x.shape.slice(0, -1).reduce((p, d) => p * d, 1), x.shape[x.rank - 1]]);
  const [a2, g2] = [rows(a), rows(g)];
  try {
    return new Tensor(transB ? K.matmul(g2, a2, { transA: true }) : K.matmul(a2, g2, { transA: true }));
  } finally {
    a2.dispose();
    g2.dispose();
  }
}
