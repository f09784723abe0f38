// Elementwise binary ops, comparisons and `where`, with NumPy broadcasting and scalar operands. Each
// BINARY row is also an autograd function and Tensor method; its gradient rule is the row of the same
// name in @sd/autograd's GRADIENTS (ops/arithmetic.ts).
import type { DeviceArray } from '../array.ts';
import { mapElementwise, type Operand } from './elementwise.ts';

/** WGSL f32 expressions of `a` and `b`. Comparisons return 1.0 / 0.0. */
export const BINARY = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  // pow: real-valued like NumPy for a > 0; integral exponents of negative bases keep their sign.
  pow: 'pow_f(a, b)',
  maximum: 'max(a, b)',
  minimum: 'min(a, b)',
  eq: 'select(0.0, 1.0, a == b)',
  ne: 'select(0.0, 1.0, a != b)',
  lt: 'select(0.0, 1.0, a < b)',
  le: 'select(0.0, 1.0, a <= b)',
  gt: 'select(0.0, 1.0, a > b)',
  ge: 'select(0.0, 1.0, a >= b)',
} as const;

export type BinaryOp = keyof typeof BINARY;

const PRELUDE = `
fn pow_f(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (a >= 0.0) { return select(pow(a, b), 0.0, a == 0.0 && b > 0.0); }
  let r = pow(-a, b);
  var nan_bits = 0x7fc00000u; // a var, so the NaN is not const-evaluated (WGSL rejects NaN constants)
  if (fract(b) != 0.0) { return bitcast<f32>(nan_bits); }
  return select(r, -r, fract(b * 0.5) != 0.0);
}`;

export function binary(op: BinaryOp, a: Operand, b: Operand): DeviceArray {
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: at least one operand must be an array`);
  const prelude = `${PRELUDE}\nfn f(a: f32, b: f32) -> f32 { return ${BINARY[op]}; }`;
  return mapElementwise(op, 'f(v0, v1)', [a, b], { prelude });
}

/** cond ? a : b, elementwise with broadcasting (cond is nonzero for true). */
export function where(cond: DeviceArray, a: Operand, b: Operand): DeviceArray {
  return mapElementwise('where', 'select(v2, v1, v0 != 0.0)', [cond, a, b]);
}
