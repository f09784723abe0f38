// The symmetric InfoNCE loss of CLIP with a learnable temperature.
import { add, crossEntropy, div, exp, matmul, minimum, mul, rsqrt, sum, tensor, transpose, type Tensor } from '@sd/autograd';

/** Rows divided by their L2 norm. */
export function l2normalize(x: Tensor, eps = 1e-12): Tensor {
  return mul(x, rsqrt(add(sum(mul(x, x), -1, true), eps)));
}

/** Upper bound of exp(logit_scale), as OpenAI clamps it. */
export const MAX_LOGIT_SCALE = 100;

/**
 * (CE(s·I·Tᵀ, arange) + CE(s·T·Iᵀ, arange)) / 2 with s = min(exp(logitScale), 100); matching pairs
 * share a row index.
 */
export function clipLoss(imageFeatures: Tensor, textFeatures: Tensor, logitScale: Tensor): Tensor {
  const b = imageFeatures.shape[0];
  const img = l2normalize(imageFeatures);
  const txt = l2normalize(textFeatures);
  const scale = minimum(exp(logitScale), MAX_LOGIT_SCALE);
  const logits = mul(matmul(img, txt, { transB: true }), scale);
  const targets = tensor(Int32Array.from({ length: b }, (_, i) => i), [b], { dtype: 'i32' });
  const imageToText = crossEntropy(logits, targets);
  const textToImage = crossEntropy(transpose(logits), targets);
  return div(add(imageToText, textToImage), 2);
}
