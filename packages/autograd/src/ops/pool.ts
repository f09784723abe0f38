// Pooling and inference-form batch normalisation, composed from existing ops (no kernels of their own).
import { fmt } from '@sd/kernels';
import type { Tensor } from '../tensor.ts';
import { add, mul, sub } from './arithmetic.ts';
import { mean } from './reduce.ts';
import { rsqrt } from './unary.ts';
import { reshape, slice } from './views.ts';

/**
 * torch.nn.functional.avg_pool2d(x, kernel) with stride = kernel, no padding, floor mode: NCHW →
 * [N, C, ⌊H/k⌋, ⌊W/k⌋]. Done as a view [N, C, H/k, k, W/k, k] and a mean over the two k axes, so
 * it is differentiable through mean's rule. Trailing rows/columns that do not fill a window are dropped.
 */
export function avgPool2d(x: Tensor, kernel: number): Tensor {
  if (x.rank !== 4) throw new Error(`avgPool2d: expected an NCHW input, got shape ${fmt(x.shape)}`);
  if (!Number.isInteger(kernel) || kernel < 1) throw new Error(`avgPool2d: kernel must be a positive integer, got ${kernel}`);
  const [n, c, h, w] = x.shape;
  const oh = Math.floor(h / kernel);
  const ow = Math.floor(w / kernel);
  if (oh === 0 || ow === 0) throw new Error(`avgPool2d: input ${fmt(x.shape)} is smaller than the ${kernel}×${kernel} window`);
  if (kernel === 1) return x;
  let fitted = x;
  if (oh * kernel !== h) fitted = slice(fitted, 2, 0, oh * kernel);
  if (ow * kernel !== w) fitted = slice(fitted, 3, 0, ow * kernel);
  return mean(reshape(fitted, [n, c, oh, kernel, ow, kernel]), [3, 5]);
}

export interface BatchNormStats {
  runningMean: Tensor;
  runningVar: Tensor;
  weight?: Tensor | null;
  bias?: Tensor | null;
  eps?: number;
}

/**
 * BatchNorm with running statistics (PyTorch's eval mode) over axis 1 of an N, C, … input:
 * (x − mean) / √(var + eps) · weight + bias, applied as one per-channel scale and shift.
 * Gradients flow to x, weight and bias (the statistics are buffers).
 */
export function batchNormInference(x: Tensor, stats: BatchNormStats): Tensor {
  const { runningMean, runningVar, weight, bias, eps = 1e-5 } = stats;
  if (x.rank < 2) throw new Error(`batchNorm: expected an N, C, … input, got shape ${fmt(x.shape)}`);
  const c = x.shape[1];
  for (const [name, t] of [['running_mean', runningMean], ['running_var', runningVar], ['weight', weight], ['bias', bias]] as const) {
    if (t && (t.rank !== 1 || t.shape[0] !== c)) throw new Error(`batchNorm: ${name} ${fmt(t.shape)} does not match the ${c} channels of input ${fmt(x.shape)}`);
  }
  let scale = rsqrt(add(runningVar, eps));
  if (weight) scale = mul(scale, weight);
  let shift = mul(runningMean, scale);
  shift = bias ? sub(bias, shift) : mul(shift, -1);
  const view = [1, c, ...x.shape.slice(2).map(() => 1)];
  return add(mul(x, reshape(scale, view)), reshape(shift, view));
}
