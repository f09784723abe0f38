// Fluent methods on Tensor (x.add(y).relu().sum()), so model code reads like PyTorch.
// They live here, not in tensor.ts, because the ops import Tensor.
import { backward } from './backward.ts';
import * as A from './ops/arithmetic.ts';
import * as M from './ops/matmul.ts';
import * as R from './ops/reduce.ts';
import * as U from './ops/unary.ts';
import * as V from './ops/views.ts';
import { Tensor } from './tensor.ts';
import type { Shape } from '@sd/kernels';

type Operand = Tensor | number;

declare module './tensor.ts' {
  interface Tensor {
    add(o: Operand): Tensor;
    sub(o: Operand): Tensor;
    mul(o: Operand): Tensor;
    div(o: Operand): Tensor;
    pow(o: Operand): Tensor;
    maximum(o: Operand): Tensor;
    minimum(o: Operand): Tensor;
    neg(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    sin(): Tensor;
    cos(): Tensor;
    rsqrt(): Tensor;
    square(): Tensor;
    abs(): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    relu(): Tensor;
    silu(): Tensor;
    gelu(approximate?: 'none' | 'tanh'): Tensor;
    quickGelu(): Tensor;
    matmul(o: Tensor): Tensor;
    sum(axes?: number | number[], keepDims?: boolean): Tensor;
    mean(axes?: number | number[], keepDims?: boolean): Tensor;
    max(axes?: number | number[], keepDims?: boolean): Tensor;
    min(axes?: number | number[], keepDims?: boolean): Tensor;
    argmax(axis: number, keepDims?: boolean): Tensor;
    softmax(): Tensor;
    logSoftmax(): Tensor;
    reshape(shape: Shape): Tensor;
    view(shape: Shape): Tensor;
    flatten(startDim?: number, endDim?: number): Tensor;
    squeeze(dim?: number): Tensor;
    unsqueeze(dim: number): Tensor;
    permute(axes: number[]): Tensor;
    transpose(a?: number, b?: number): Tensor;
    slice(axis: number, start: number, end: number, step?: number): Tensor;
    narrow(axis: number, start: number, length: number): Tensor;
    split(sizes: number | number[], axis?: number): Tensor[];
    chunk(chunks: number, axis?: number): Tensor[];
    expand(shape: Shape): Tensor;
    backward(gradient?: Tensor, options?: { retainGraph?: boolean }): void;
  }
}

const methods: Partial<Record<keyof Tensor, (this: Tensor, ...args: never[]) => unknown>> = {
  add(this: Tensor, o: Operand) { return A.add(this, o); },
  sub(this: Tensor, o: Operand) { return A.sub(this, o); },
  mul(this: Tensor, o: Operand) { return A.mul(this, o); },
  div(this: Tensor, o: Operand) { return A.div(this, o); },
  pow(this: Tensor, o: Operand) { return A.pow(this, o); },
  maximum(this: Tensor, o: Operand) { return A.maximum(this, o); },
  minimum(this: Tensor, o: Operand) { return A.minimum(this, o); },
  neg(this: Tensor) { return A.neg(this); },
  exp(this: Tensor) { return U.exp(this); },
  log(this: Tensor) { return U.log(this); },
  sqrt(this: Tensor) { return U.sqrt(this); },
  sin(this: Tensor) { return U.sin(this); },
  cos(this: Tensor) { return U.cos(this); },
  rsqrt(this: Tensor) { return U.rsqrt(this); },
  square(this: Tensor) { return U.square(this); },
  abs(this: Tensor) { return U.abs(this); },
  tanh(this: Tensor) { return U.tanh(this); },
  sigmoid(this: Tensor) { return U.sigmoid(this); },
  relu(this: Tensor) { return U.relu(this); },
  silu(this: Tensor) { return U.silu(this); },
  gelu(this: Tensor, approximate?: 'none' | 'tanh') { return U.gelu(this, approximate); },
  quickGelu(this: Tensor) { return U.quickGelu(this); },
  matmul(this: Tensor, o: Tensor) { return M.matmul(this, o); },
  sum(this: Tensor, axes?: number | number[], keepDims?: boolean) { return R.sum(this, axes, keepDims); },
  mean(this: Tensor, axes?: number | number[], keepDims?: boolean) { return R.mean(this, axes, keepDims); },
  max(this: Tensor, axes?: number | number[], keepDims?: boolean) { return R.max(this, axes, keepDims); },
  min(this: Tensor, axes?: number | number[], keepDims?: boolean) { return R.min(this, axes, keepDims); },
  argmax(this: Tensor, axis: number, keepDims?: boolean) { return R.argmax(this, axis, keepDims); },
  softmax(this: Tensor) { return R.softmax(this); },
  logSoftmax(this: Tensor) { return R.logSoftmax(this); },
  reshape(this: Tensor, shape: Shape) { return V.reshape(this, shape); },
  view(this: Tensor, shape: Shape) { return V.reshape(this, shape); },
  flatten(this: Tensor, a?: number, b?: number) { return V.flatten(this, a, b); },
  squeeze(this: Tensor, dim?: number) { return V.squeeze(this, dim); },
  unsqueeze(this: Tensor, dim: number) { return V.unsqueeze(this, dim); },
  permute(this: Tensor, axes: number[]) { return V.permute(this, axes); },
  transpose(this: Tensor, a?: number, b?: number) { return V.transpose(this, a, b); },
  slice(this: Tensor, axis: number, start: number, end: number, step?: number) { return V.slice(this, axis, start, end, step); },
  narrow(this: Tensor, axis: number, start: number, length: number) { return V.narrow(this, axis, start, length); },
  split(this: Tensor, sizes: number | number[], axis?: number) { return V.split(this, sizes, axis); },
  chunk(this: Tensor, chunks: number, axis?: number) { return V.chunk(this, chunks, axis); },
  expand(this: Tensor, shape: Shape) { return V.expand(this, shape); },
  backward(this: Tensor, gradient?: Tensor, options?: { retainGraph?: boolean }) { backward(this, gradient, options); },
};
Object.assign(Tensor.prototype, methods);
