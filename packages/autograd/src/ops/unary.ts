// Elementwise unary ops; each gradient is the fused dy·f'(x) kernel from the same table.
import { unary as unaryKernel, unaryBackward, type UnaryOp } from '@sd/kernels';
import { fromOp, Tensor } from '../tensor.ts';

function unaryOp(op: UnaryOp, x: Tensor): Tensor {
  return fromOp(op, unaryKernel(op, x.data), [x], (g) => [new Tensor(unaryBackward(op, x.data, g.data))]);
}

export const abs = (x: Tensor) => unaryOp('abs', x);
export const exp = (x: Tensor) => unaryOp('exp', x);
export const log = (x: Tensor) => unaryOp('log', x);
export const sqrt = (x: Tensor) => unaryOp('sqrt', x);
export const rsqrt = (x: Tensor) => unaryOp('rsqrt', x);
export const square = (x: Tensor) => unaryOp('square', x);
export const sin = (x: Tensor) => unaryOp('sin', x);
export const cos = (x: Tensor) => unaryOp('cos', x);
export const tanh = (x: Tensor) => unaryOp('tanh', x);
export const sigmoid = (x: Tensor) => unaryOp('sigmoid', x);
export const relu = (x: Tensor) => unaryOp('relu', x);
export const silu = (x: Tensor) => unaryOp('silu', x);
export const quickGelu = (x: Tensor) => unaryOp('quick_gelu', x);
/** GELU; `approximate: 'tanh'` as in PyTorch, else the exact erf form. */
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none') => unaryOp(approximate === 'tanh' ? 'gelu_tanh' : 'gelu_erf', x);
