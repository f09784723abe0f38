// Broadcasting binary arithmetic, with gradients reduced back to each operand's shape.
import { binary, sumTo, where as whereKernel, type BinaryOp } from '@sd/kernels';
import { fromOp, Tensor } from '../tensor.ts';
import { log } from './unary.ts';

export type Operand = Tensor | number;

const data = (x: Operand) => (typeof x === 'number' ? x : x.data);
const tensors = (...xs: Operand[]) => xs.filter((x): x is Tensor => x instanceof Tensor);

/** Sums a broadcast gradient back to `like`'s shape (no-op when shapes already match). */
export function unbroadcast(grad: Tensor, like: Tensor): Tensor {
  if (grad.shape.length === like.shape.length && grad.shape.every((d, i) => d === like.shape[i])) return grad;
  return new Tensor(sumTo(grad.data, like.shape));
}

/** Whether an operand needs a gradient (numbers and constant tensors do not: their rule is skipped). */
const needs = (x: Operand): x is Tensor => x instanceof Tensor && x.requiresGrad;

function binaryOp(op: BinaryOp, a: Operand, b: Operand, rule: (g: Tensor) => [Tensor | null, Tensor | null]): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: at least one operand must be a tensor`);
  const out = binary(op, data(a), data(b));
  const inputs = tensors(a, b);
  return fromOp(op, out, inputs, (g) => {
    const [ga, gb] = rule(g);
    const grads: (Tensor | null)[] = [];
    if (a instanceof Tensor) grads.push(ga && needs(a) ? unbroadcast(ga, a) : null);
    if (b instanceof Tensor) grads.push(gb && needs(b) ? unbroadcast(gb, b) : null);
    return grads;
  });
}

export const add = (a: Operand, b: Operand): Tensor => binaryOp('add', a, b, (g) => [g, g]);

export const sub = (a: Operand, b: Operand): Tensor => binaryOp('sub', a, b, (g) => [g, needs(b) ? neg(g) : null]);

export const mul = (a: Operand, b: Operand): Tensor =>
  binaryOp('mul', a, b, (g) => [needs(a) ? mul(g, b) : null, needs(b) ? mul(g, a) : null]);

export const div = (a: Operand, b: Operand): Tensor =>
  binaryOp('div', a, b, (g) => [
    needs(a) ? div(g, b) : null,
    // d(a/b)/db = -a/b²
    needs(b) ? neg(div(mul(g, a), mul(b, b))) : null,
  ]);

export const pow = (a: Operand, b: Operand): Tensor =>
  binaryOp('pow', a, b, (g) => [
    // d(a^b)/da = b·a^(b−1)
    needs(a) ? mul(g, mul(pow(a, typeof b === 'number' ? b - 1 : sub(b, 1)), b)) : null,
    // d(a^b)/db = a^b·ln a
    needs(b) ? mul(g, mul(pow(a, b), typeof a === 'number' ? Math.log(a) : log(a))) : null,
  ]);

/** Gradient flows to the larger operand (half to each on ties, like PyTorch). */
export const maximum = (a: Operand, b: Operand): Tensor => binaryOp('maximum', a, b, (g) => tieRule(g, a, b, 'gt'));

export const minimum = (a: Operand, b: Operand): Tensor => binaryOp('minimum', a, b, (g) => tieRule(g, a, b, 'lt'));

function tieRule(g: Tensor, a: Operand, b: Operand, op: 'gt' | 'lt'): [Tensor | null, Tensor | null] {
  const share = new Tensor(binaryTie(data(a), data(b), op));
  return [needs(a) ? mul(g, share) : null, needs(b) ? mul(g, sub(1, share)) : null];
}

/** 1 where a (op) b, 0.5 where equal, else 0. */
function binaryTie(a: ReturnType<typeof data>, b: ReturnType<typeof data>, op: 'gt' | 'lt') {
  const strict = binary(op, a, b);
  const equal = binary('eq', a, b);
  const half = binary('mul', equal, 0.5);
  const out = binary('add', strict, half);
  for (const t of [strict, equal, half]) t.dispose();
  return out;
}

// Comparisons: no gradient.
export const eq = (a: Operand, b: Operand) => new Tensor(binary('eq', data(a), data(b)));
export const ne = (a: Operand, b: Operand) => new Tensor(binary('ne', data(a), data(b)));
export const lt = (a: Operand, b: Operand) => new Tensor(binary('lt', data(a), data(b)));
export const le = (a: Operand, b: Operand) => new Tensor(binary('le', data(a), data(b)));
export const gt = (a: Operand, b: Operand) => new Tensor(binary('gt', data(a), data(b)));
export const ge = (a: Operand, b: Operand) => new Tensor(binary('ge', data(a), data(b)));

/** cond ? a : b; the gradient goes to the branch that was taken. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const out = whereKernel(cond.data, data(a), data(b));
  const inputs = tensors(a, b);
  return fromOp('where', out, inputs, (g) => {
    const grads: (Tensor | null)[] = [];
    if (a instanceof Tensor) grads.push(needs(a) ? unbroadcast(new Tensor(whereKernel(cond.data, g.data, 0)), a) : null);
    if (b instanceof Tensor) grads.push(needs(b) ? unbroadcast(new Tensor(whereKernel(cond.data, 0, g.data)), b) : null);
    return grads;
  });
}

export const neg = (x: Tensor): Tensor => mul(x, -1);
