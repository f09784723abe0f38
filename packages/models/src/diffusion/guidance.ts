// Classifier-free guidance (Ho & Salimans 2022) on whole model outputs.
import { add, mul, sub, type Tensor } from '@sd/autograd';

/** uncond + scale·(cond − uncond): scale 1 is the conditional output, larger pushes further from uncond. */
export function classifierFreeGuidance(uncond: Tensor, cond: Tensor, scale: number): Tensor {
  return add(uncond, mul(sub(cond, uncond), scale));
}
