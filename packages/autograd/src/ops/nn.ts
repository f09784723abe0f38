// Neural-network ops with fused kernels: normalisations, convolution, attention, losses, dropout.
import * as K from '@sd/kernels';
import { drawFrom, Generator, getGenerator } from '../random.ts';
import { fromOp, Tensor } from '../tensor.ts';
import { mul } from './arithmetic.ts';

/** Inputs of a normalisation with optional affine parameters: [x, weight?, bias?]. */
const affineInputs = (x: Tensor, weight: Tensor | null, bias: Tensor | null): Tensor[] => [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];

/** Gradients in the order of `affineInputs` (null where a parameter needs none). */
function affineGrads(dx: K.DeviceArray, dweight: K.DeviceArray | null | undefined, dbias: K.DeviceArray | null | undefined, weight: Tensor | null, bias: Tensor | null): (Tensor | null)[] {
  const grads: (Tensor | null)[] = [new Tensor(dx)];
  if (weight) grads.push(dweight ? new Tensor(dweight) : null);
  if (bias) grads.push(dbias ? new Tensor(dbias) : null);
  return grads;
}

/** LayerNorm over the last axis. */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  const { y, mean, rstd } = K.layerNorm(x.data, weight?.data, bias?.data, eps);
  const out = fromOp('layerNorm', y, affineInputs(x, weight, bias), (g) => {
    const { dx, dweight, dbias } = K.layerNormBackward(g.data, x.data, weight?.data, mean, rstd, {
      weightGrad: !!weight?.requiresGrad,
      biasGrad: !!bias?.requiresGrad,
    });
    return affineGrads(dx, dweight, dbias, weight, bias);
  });
  out.attach(mean, rstd);
  return out;
}

/** RMSNorm over the last axis: x / √(mean(x²) + eps) · weight. */
export function rmsNorm(x: Tensor, weight: Tensor | null, eps = 1e-6): Tensor {
  const { y, rstd } = K.rmsNorm(x.data, weight?.data, eps);
  const out = fromOp('rmsNorm', y, affineInputs(x, weight, null), (g) => {
    const { dx, dweight } = K.rmsNormBackward(g.data, x.data, weight?.data, rstd, { weightGrad: !!weight?.requiresGrad });
    return affineGrads(dx, dweight, null, weight, null);
  });
  out.attach(rstd);
  return out;
}

/** GroupNorm over [N, C, …] inputs, optionally followed by a fused SiLU. */
export function groupNorm(x: Tensor, groups: number, weight: Tensor | null, bias: Tensor | null, eps = 1e-5, silu = false): Tensor {
  const { y, mean, rstd } = K.groupNorm(x.data, groups, weight?.data, bias?.data, eps, { silu });
  const out = fromOp('groupNorm', y, affineInputs(x, weight, bias), (g) => {
    const { dx, dweight, dbias } = K.groupNormBackward(g.data, x.data, weight?.data, bias?.data, mean, rstd, groups, { silu });
    return affineGrads(dx, dweight, dbias, weight, bias);
  });
  out.attach(mean, rstd);
  return out;
}

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
}

export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null, options: Conv2dOptions = {}): Tensor {
  const y = K.conv2d(x.data, weight.data, bias?.data, options);
  const inputs = [x, weight, ...(bias ? [bias] : [])];
  return fromOp('conv2d', y, inputs, (g) => {
    const grads = [
      x.requiresGrad ? new Tensor(K.conv2dBackwardInput(g.data, weight.data, x.shape, options)) : null,
      weight.requiresGrad ? new Tensor(K.conv2dBackwardWeight(g.data, x.data, weight.shape, options)) : null,
    ];
    if (bias) grads.push(new Tensor(K.sum(g.data, [0, 2, 3])));
    return grads;
  });
}

export interface AttentionOptions {
  scale?: number;
  causal?: boolean;
  /** [B, Sk], 1 = attend, 0 = masked. */
  keyPaddingMask?: Tensor;
}

/** softmax(q·kᵀ·scale + mask)·v over [B, H, S, D] tensors, fused (flash-style) forward and backward. */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const kernelOptions = { scale: options.scale, causal: options.causal, keyPaddingMask: options.keyPaddingMask?.data };
  const { out, lse } = K.attention(q.data, k.data, v.data, kernelOptions);
  const result = fromOp('attention', out, [q, k, v], (g) => {
    const { dq, dk, dv } = K.attentionBackward(q.data, k.data, v.data, out, lse, g.data, kernelOptions);
    return [new Tensor(dq), new Tensor(dk), new Tensor(dv)];
  });
  result.attach(lse);
  return result;
}

export interface CrossEntropyOptions {
  reduction?: 'mean' | 'sum' | 'none';
  /** Targets equal to this contribute no loss and no gradient (default -100, like PyTorch). */
  ignoreIndex?: number;
}

/**
 * Cross-entropy of logits [..., C] against class targets [...] (an i32 tensor, or host numbers,
 * which are checked and uploaded once): 'mean' over non-ignored rows (default), 'sum' or 'none'.
 */
export function crossEntropy(logits: Tensor, targets: Tensor | ArrayLike<number>, options: CrossEntropyOptions = {}): Tensor {
  const kernelOptions = { reduction: options.reduction ?? 'mean', ignoreIndex: options.ignoreIndex };
  let t: K.DeviceArray;
  let owned: K.DeviceArray[] = [];
  if (targets instanceof Tensor) t = targets.data;
  else {
    K.validateTargets(targets, logits.shape[logits.rank - 1] ?? 0, options.ignoreIndex ?? -100, 'crossEntropy');
    t = K.DeviceArray.from(targets, logits.shape.slice(0, -1), 'i32');
    owned = [t];
  }
  const { loss, saved } = K.crossEntropy(logits.data, t, kernelOptions);
  const out = fromOp('crossEntropy', loss, [logits], (g) => [new Tensor(K.crossEntropyBackward(g.data, logits.data, t, saved, kernelOptions))]);
  out.attach(saved.stats, ...(saved.count ? [saved.count] : []), ...owned);
  return out;
}

/** Inverted dropout with a seeded mask (identity when not training or p = 0). */
export function dropout(x: Tensor, p: number, training: boolean, generator: Generator = getGenerator()): Tensor {
  if (!training || p === 0) return x;
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: p must be in [0, 1], got ${p} (input ${x})`);
  const mask = new Tensor(drawFrom(generator, 'dropout', x.size, (position) => K.dropoutMaskAt(x.shape, p, position)));
  return mul(x, mask);
}

