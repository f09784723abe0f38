// Parameter re-initialisation helpers (OpenAI's initialize_parameters draws differ from PyTorch's defaults).
import type { Tensor } from '@sd/autograd';

/** Moves `value`'s data into `param` (same shape) and frees the temporary wrapper. */
export function replaceData(param: Tensor, value: Tensor): void {
  param.assign(value.data.reshape(value.shape));
  value.dispose();
}
