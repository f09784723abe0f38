// Fluent methods on Tensor (x.add(y).relu().sum()), so model code reads like PyTorch. Each method is
// one of the package's functions with the tensor as its first argument, and both its declaration
// and its body are derived from the list below, so the table-made unary and binary functions
// become methods without being listed. They live here, not in tensor.ts, because the ops import Tensor.
import { backward } from './backward.ts';
import * as A from './ops/arithmetic.ts';
import * as M from './ops/matmul.ts';
import * as R from './ops/reduce.ts';
import * as U from './ops/unary.ts';
import * as V from './ops/views.ts';
import { Tensor } from './tensor.ts';

const METHODS = {
  ...A.binaryFunctions,
  ...U.unaryFunctions,
  gelu: U.gelu,
  matmul: M.matmul,
  sum: R.sum,
  mean: R.mean,
  max: R.max,
  min: R.min,
  argmax: R.argmax,
  softmax: R.softmax,
  logSoftmax: R.logSoftmax,
  reshape: V.reshape,
  view: V.reshape,
  flatten: V.flatten,
  squeeze: V.squeeze,
  unsqueeze: V.unsqueeze,
  permute: V.permute,
  transpose: V.transpose,
  slice: V.slice,
  narrow: V.narrow,
  split: V.split,
  chunk: V.chunk,
  expand: V.expand,
  backward,
};

/** `f(x, ...rest)` as the method `x.f(...rest)`. */
type AsMethods<T> = { [K in keyof T]: T[K] extends (x: Tensor, ...rest: infer P) => infer R ? (...args: P) => R : never };
type TensorMethods = AsMethods<typeof METHODS>;

declare module './tensor.ts' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- the members come from TensorMethods
  interface Tensor extends TensorMethods {}
}

const prototype = Tensor.prototype as unknown as Record<string, unknown>;
for (const [name, f] of Object.entries(METHODS) as [string, (x: Tensor, ...rest: unknown[]) => unknown][]) {
  prototype[name] = function (this: Tensor, ...rest: unknown[]) {
    return f(this, ...rest);
  };
}
