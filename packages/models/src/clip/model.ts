// The CLIP model in OpenAI's layout: the text tower at the top level (inherited from
// ClipTextEncoder), the image tower under `visual.*`, and `logit_scale`. MultiCLIP concatenates the
// embeddings of several CLIP models (the seed's ViT-B/32 + ViT-B/16 + RN101 = 1536-d).
import { concat, exp, full, matmul, mul, rsqrt, sum, type Tensor } from '@sd/autograd';
import { CLIP_CONFIGS, type ClipConfig, type ClipModelName } from './config.ts';
import { ModifiedResNet } from './resnet.ts';
import { ClipTextEncoder, type TextEncoding } from './text.ts';
import type { TokenizedBatch } from './tokenizer.ts';
import { inferenceScope } from './transformer.ts';
import { VisionTransformer } from './vit.ts';

/** Rows divided by their L2 norm (as OpenAI's forward does before the logits). */
function l2Normalize(x: Tensor): Tensor {
  return mul(x, rsqrt(sum(mul(x, x), -1, true)));
}

export interface ClipLogits {
  /** [images, texts]: exp(logit_scale) · cos(image_i, text_j). */
  logitsPerImage: Tensor;
  /** [texts, images]: the transpose. */
  logitsPerText: Tensor;
}

export class CLIP extends ClipTextEncoder {
  readonly visual: VisionTransformer | ModifiedResNet;
  readonly logitScale: Tensor;

  constructor(readonly config: ClipConfig) {
    super(config.text, config.embedDim);
    const v = config.vision;
    this.visual = this.module('visual', v.kind === 'vit' ? new VisionTransformer(v, config.embedDim) : new ModifiedResNet(v, config.embedDim));
    this.logitScale = this.param('logit_scale', full([], Math.log(1 / 0.07)));
  }

  /** A randomly initialised model of a named size ('ViT-B/32', 'ViT-B/16', 'RN50', 'RN101', 'tiny-vit', 'tiny-rn'). */
  static fromName(name: ClipModelName): CLIP {
    const config = CLIP_CONFIGS[name] as ClipConfig;
    if (!config) throw new Error(`CLIP: unknown model "${name}" (known: ${Object.keys(CLIP_CONFIGS).join(', ')})`);
    return new CLIP(config);
  }

  /** The side of the square images encodeImage expects. */
  get imageResolution(): number {
    return this.config.vision.imageResolution;
  }

  /** images [B, 3, R, R], CLIP-normalised (see preprocess.ts) → [B, embedDim] (OpenAI's encode_image). */
  encodeImage(images: Tensor): Tensor {
    return this.visual.forward(images);
  }

  /**
   * OpenAI's forward: cosine similarities of every image with every text, scaled by exp(logit_scale).
   * The per-token text states are returned too, for callers that condition on them.
   */
  forward(images: Tensor, ids: Tensor | TokenizedBatch): ClipLogits & { text: TextEncoding } {
    return inferenceScope(() => {
      const imageFeatures = this.encodeImage(images);
      const text = this.encodeTextFull(ids);
      const logitsPerImage = mul(matmul(l2Normalize(imageFeatures), l2Normalize(text.pooled), { transB: true }), exp(this.logitScale));
      return { logitsPerImage, logitsPerText: logitsPerImage.transpose(0, 1), text };
    });
  }
}

export interface MultiClipOptions {
  /**
   * L2-normalise each model's embedding before concatenating (default true), so each model contributes
   * a unit vector whatever its feature scale; false concatenates the raw encode_image/encode_text outputs.
   */
  normalize?: boolean;
}

/** Several CLIP models side by side; embeddings are concatenated in model order. */
export class MultiCLIP {
  readonly normalize: boolean;
  constructor(
    readonly models: readonly CLIP[],
    options: MultiClipOptions = {},
  ) {
    if (models.length === 0) throw new Error('MultiCLIP: no models given');
    this.normalize = options.normalize ?? true;
  }

  get embedDim(): number {
    return this.models.reduce((n, m) => n + m.embedDim, 0);
  }

  private join(encode: (model: CLIP, index: number) => Tensor): Tensor {
    return inferenceScope(() => {
      const parts = this.models.map(encode);
      return concat(this.normalize ? parts.map(l2Normalize) : parts, -1);
    });
  }

  /**
   * images: one tensor for every model (when all share a resolution) or one per model, each
   * preprocessed at that model's resolution → [B, Σ embedDim].
   */
  encodeImage(images: Tensor | readonly Tensor[]): Tensor {
    const list = Array.isArray(images) ? (images as readonly Tensor[]) : this.models.map(() => images as Tensor);
    if (list.length !== this.models.length) throw new Error(`MultiCLIP.encodeImage: ${list.length} image batches for ${this.models.length} models`);
    return this.join((m, i) => m.encodeImage(list[i]));
  }

  /** Token ids (shared by all models: they use the same tokenizer) → [B, Σ embedDim]. */
  encodeText(ids: Tensor | TokenizedBatch): Tensor {
    return this.join((m) => m.encodeText(ids));
  }

  eval(): this {
    for (const m of this.models) m.eval();
    return this;
  }
}
