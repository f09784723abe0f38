// Elementwise unary ops, one per row of the kernels' UNARY table: a row's forward expression and its
// fused dy·f'(x) backward are the whole op, so a new row becomes a function here (and a Tensor
// method, see methods.ts) without being listed again.
import { UNARY, unary as unaryKernel, unaryBackward, type UnaryOp } from '@sd/kernels';
import { fromOp, Tensor } from '../tensor.ts';
import { exportedByName, functionsFromTable } from './from-table.ts';

/** Applies one UNARY row; its gradient is the row's fused backward kernel. */
export function unaryOp(op: UnaryOp, x: Tensor): Tensor {
  return fromOp(op, unaryKernel(op, x.data), [x], (g) => [new Tensor(unaryBackward(op, x.data, g.data))]);
}

/** Every UNARY row as `(x) => Tensor`, named in camelCase (quick_gelu → quickGelu). */
export const unaryFunctions = functionsFromTable(Object.keys(UNARY) as UnaryOp[], (op) => (x: Tensor): Tensor => unaryOp(op, x));

// ES modules need static export names, hence this list; the check below names a row missing from it.
export const { neg, abs, exp, log, sqrt, rsqrt, square, sin, cos, tanh, sigmoid, relu, silu, geluTanh, geluErf, quickGelu } = unaryFunctions;
exportedByName<Exclude<keyof typeof unaryFunctions, keyof typeof import('./unary.ts')>>();

/** GELU; `approximate: 'tanh'` as in PyTorch, else the exact erf form. */
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor => (approximate === 'tanh' ? geluTanh(x) : geluErf(x));
