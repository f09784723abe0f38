// The library entry point: load a trained prior and turn texts or text embeddings into image embeddings.
import type { GenerateOptions } from './generate.ts';
import { generateEmbeddings } from './generate.ts';
import { loadPrior, type PriorBundle } from './train.ts';

/** Encodes texts to pooled CLIP text embeddings [N, D] (e.g. a CLIP text encoder). */
export type TextEncoder = (texts: string[]) => Promise<Float32Array>;

/**
 * A trained shifted-diffusion prior.
 *
 * ```ts
 * const prior = await ShiftedDiffusionPrior.load('runs/prior/shifted');
 * const embeddings = await prior.generate(textEmbeddings, { steps: 8, guidance: 2, seed: 0 });
 * ```
 */
export class ShiftedDiffusionPrior {
  private constructor(
    readonly bundle: PriorBundle,
    private readonly textEncoder?: TextEncoder,
  ) {}

  /** Loads a run directory (or its checkpoint.safetensors); `textEncoder` enables `generate(texts)`. */
  static async load(path: string, options: { textEncoder?: TextEncoder } = {}): Promise<ShiftedDiffusionPrior> {
    return new ShiftedDiffusionPrior(loadPrior(path), options.textEncoder);
  }

  /** Embedding dimension. */
  get dim(): number {
    return this.bundle.diffusion.stats.dim;
  }

  /**
   * Image embeddings [N, dim] (row-major) for N texts or for text embeddings [N, dim].
   * The same inputs, options and seed always give the same result.
   */
  async generate(inputs: string[] | Float32Array, options: GenerateOptions = {}): Promise<Float32Array> {
    let embeddings: Float32Array;
    if (Array.isArray(inputs)) {
      if (!this.textEncoder) throw new Error('generate(texts): this prior was loaded without a text encoder; pass text embeddings or load with { textEncoder }');
      embeddings = await this.textEncoder(inputs);
    } else embeddings = inputs;
    return generateEmbeddings(this.bundle, embeddings, options);
  }
}
