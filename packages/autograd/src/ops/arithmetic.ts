// Broadcasting binary arithmetic and comparisons, one function per row of the kernels' BINARY table,
// with gradients reduced back to each operand's shape.
import { BINARY, binary, sumTo, where as whereKernel, type BinaryOp } from '@sd/kernels';
import { fromOp, Tensor } from '../tensor.ts';
import { exportedByName, functionsFromTable } from './from-table.ts';
import { log, neg } from './unary.ts';

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

type GradientRule = (g: Tensor, a: Operand, b: Operand) => [Tensor | null, Tensor | null];

/**
 * The gradient rule of each BINARY kernel row, keyed by the same name (a new row does not compile
 * until it has one): the gradients of a and b before they are summed back to the operands' shapes,
 * null where not needed. A null rule: no gradient and nothing recorded (the comparisons).
 */
const GRADIENTS: Record<BinaryOp, GradientRule | null> = {
  add: (g) => [g, g],
  sub: (g, _a, b) => [g, needs(b) ? neg(g) : null],
  mul: (g, a, b) => [needs(a) ? mul(g, b) : null, needs(b) ? mul(g, a) : null],
  div: (g, a, b) => [
    needs(a) ? div(g, b) : null,
    // d(a/b)/db = -a/b²
    needs(b) ? neg(div(mul(g, a), mul(b, b))) : null,
  ],
  pow: (g, a, b) => [
    // d(a^b)/da = b·a^(b−1)
    needs(a) ? mul(g, mul(pow(a, typeof b === 'number' ? b - 1 : sub(b, 1)), b)) : null,
    // d(a^b)/db = a^b·ln a
    needs(b) ? mul(g, mul(pow(a, b), typeof a === 'number' ? Math.log(a) : log(a))) : null,
  ],
  // Gradient flows to the larger operand (half to each on ties, like PyTorch).
  maximum: (g, a, b) => tieRule(g, a, b, 'gt'),
  minimum: (g, a, b) => tieRule(g, a, b, 'lt'),
  eq: null,
  ne: null,
  lt: null,
  le: null,
  gt: null,
  ge: null,
};

/** Applies one BINARY row with broadcasting; its gradient is the row's rule in GRADIENTS. */
export function binaryOp(op: BinaryOp, a: Operand, b: Operand): Tensor {
  const rule = GRADIENTS[op];
  if (!rule) return new Tensor(binary(op, data(a), data(b)));
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: at least one operand must be a tensor`);
  const out = binary(op, data(a), data(b));
  const inputs = tensors(a, b);
  return fromOp(op, out, inputs, (g) => {
    const [ga, gb] = rule(g, a, b);
    const grads: (Tensor | null)[] = [];
    if (a instanceof Tensor) grads.push(ga && needs(a) ? unbroadcast(ga, a) : null);
    if (b instanceof Tensor) grads.push(gb && needs(b) ? unbroadcast(gb, b) : null);
    return grads;
  });
}

/** Every BINARY row as `(a, b) => Tensor`, a number allowed for either operand. */
export const binaryFunctions = functionsFromTable(Object.keys(BINARY) as BinaryOp[], (op) => (a: Operand, b: Operand): Tensor => binaryOp(op, a, b));

// ES modules need static export names, hence this list; the check below names a row missing from it.
export const { add, sub, mul, div, pow, maximum, minimum, eq, ne, lt, le, gt, ge } = binaryFunctions;
exportedByName<Exclude<keyof typeof binaryFunctions, keyof typeof import('./arithmetic.ts')>>();

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
