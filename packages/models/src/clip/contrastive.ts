// What CLIP training and zero-shot evaluation need from a model: two encoders and a temperature.
import type { Tensor, nn } from '@sd/autograd';

export interface ContrastiveModel extends nn.Module {
  /** Pooled, projected image features [B, E] from preprocessed pixels [B, 3, R, R]. */
  encodeImage(pixels: Tensor): Tensor;
  /** Pooled, projected text features [B, E] from token ids (i32) [B, L]. */
  encodeText(ids: Tensor): Tensor;
  /** log of the logit scale (a scalar parameter, OpenAI's `logit_scale`). */
  readonly logitScale: Tensor;
  /** Width of the image and text embeddings. */
  readonly embedDim: number;
  /** Input resolution and text context length. */
  readonly imageResolution: number;
  readonly contextLength: number;
}
