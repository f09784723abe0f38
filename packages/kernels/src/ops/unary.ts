// Elementwise unary ops: forward expression and the fused backward (dy·f'(x)) in one table. Each
// row is also an autograd function and Tensor method (@sd/autograd derives them), so a new op is a row.
import type { DeviceArray } from '../array.ts';
import { mapElementwise } from './elementwise.ts';

const SQRT_2_OVER_PI = 0.7978845608028654;

/** WGSL helpers some entries use (erf has no builtin). */
const PRELUDE = `
fn erf_approx(x: f32) -> f32 {
  // Numerical Recipes' erfc Chebyshev fit (fractional error < 1.2e-7): erf has no WGSL builtin.
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.5 * a);
  let y = 1.0 - t * exp(-a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
          t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
          t * (-0.82215223 + t * 0.17087277)))))))));
  return select(-y, y, x >= 0.0);
}
fn sigmoid_f(x: f32) -> f32 { return select(exp(x) / (1.0 + exp(x)), 1.0 / (1.0 + exp(-x)), x >= 0.0); }
fn tanh_f(x: f32) -> f32 { let e = exp(-2.0 * abs(x)); let t = (1.0 - e) / (1.0 + e); return select(-t, t, x >= 0.0); }
`;

export interface UnaryDef {
  /** f32 WGSL expression of `x`. */
  forward: string;
  /** dy·f'(x) as a WGSL expression of `x` and `g` (the upstream gradient): autograd's rule for the op. */
  backward: string;
}

export const UNARY = {
  neg: { forward: '-x', backward: '-g' },
  abs: { forward: 'abs(x)', backward: 'g * sign(x)' },
  exp: { forward: 'exp(x)', backward: 'g * exp(x)' },
  log: { forward: 'log(x)', backward: 'g / x' },
  sqrt: { forward: 'sqrt(x)', backward: 'g * 0.5 / sqrt(x)' },
  rsqrt: { forward: 'inverseSqrt(x)', backward: 'g * -0.5 * inverseSqrt(x) / x' },
  square: { forward: 'x * x', backward: 'g * 2.0 * x' },
  sin: { forward: 'sin(x)', backward: 'g * cos(x)' },
  cos: { forward: 'cos(x)', backward: '-g * sin(x)' },
  tanh: { forward: 'tanh_f(x)', backward: 'g * (1.0 - tanh_f(x) * tanh_f(x))' },
  sigmoid: { forward: 'sigmoid_f(x)', backward: 'g * sigmoid_f(x) * (1.0 - sigmoid_f(x))' },
  relu: { forward: 'max(x, 0.0)', backward: 'select(0.0, g, x > 0.0)' },
  silu: { forward: 'x * sigmoid_f(x)', backward: 'g * sigmoid_f(x) * (1.0 + x * (1.0 - sigmoid_f(x)))' },
  gelu_tanh: {
    forward: `0.5 * x * (1.0 + tanh_f(${SQRT_2_OVER_PI} * (x + 0.044715 * x * x * x)))`,
    backward: `g * (0.5 * (1.0 + tanh_f(${SQRT_2_OVER_PI} * (x + 0.044715 * x * x * x))) + 0.5 * x * (1.0 - tanh_f(${SQRT_2_OVER_PI} * (x + 0.044715 * x * x * x)) * tanh_f(${SQRT_2_OVER_PI} * (x + 0.044715 * x * x * x))) * ${SQRT_2_OVER_PI} * (1.0 + 3.0 * 0.044715 * x * x))`,
  },
  gelu_erf: {
    forward: '0.5 * x * (1.0 + erf_approx(x * 0.7071067811865476))',
    backward: 'g * (0.5 * (1.0 + erf_approx(x * 0.7071067811865476)) + x * 0.3989422804014327 * exp(-0.5 * x * x))',
  },
  quick_gelu: { forward: 'x * sigmoid_f(1.702 * x)', backward: 'g * (sigmoid_f(1.702 * x) * (1.0 + 1.702 * x * (1.0 - sigmoid_f(1.702 * x))))' },
} satisfies Record<string, UnaryDef>;

export type UnaryOp = keyof typeof UNARY;

/** The unary ops a matmul fuses into its epilogue: the activations of linear layers. */
export const ACTIVATIONS = ['relu', 'gelu_tanh', 'gelu_erf', 'silu', 'quick_gelu'] as const satisfies readonly UnaryOp[];
export type Activation = (typeof ACTIVATIONS)[number];

export function unary(op: UnaryOp, x: DeviceArray): DeviceArray {
  const prelude = `${PRELUDE}\nfn f(x: f32) -> f32 { return ${UNARY[op].forward}; }`;
  return mapElementwise(op, 'f(v0)', [x], { prelude });
}

/** dy·f'(x) for a unary op, fused into one kernel. */
export function unaryBackward(op: UnaryOp, x: DeviceArray, dy: DeviceArray): DeviceArray {
  const prelude = `${PRELUDE}\nfn df(x: f32, g: f32) -> f32 { return ${UNARY[op].backward}; }`;
  return mapElementwise(`${op}_backward`, 'df(v0, v1)', [x, dy], { prelude });
}

/** The WGSL helpers the UNARY expressions use, for kernels that fuse an activation (e.g. matmul). */
export { PRELUDE as UNARY_PRELUDE };
