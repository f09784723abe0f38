// Text → image, the whole stack: the CLIP text embedding of each caption, an image embedding from a
// prior (shifted or baseline) or the text embedding itself (the trivial arm), then the decoder UNet
// (DDIM with classifier-free guidance against the zero embedding) and the VAE. Embeddings are put in
// the embedding space's normalisation before decoding, as the decoder was trained (one CLIP: unit
// rows; a MultiCLIP: per model block, or raw; clip/embedding-space.ts).
import { Generator } from '@sd/autograd';
import type { FileLoader } from '@sd/io';
import { defaultClipPath, loadExportedClipsFrom, openClips } from '../clip/default.ts';
import { disposeEncoder, embedTextRows, embeddingDim, encoderContextLength, normalizeEmbeddings, type ImageTextEncoder } from '../clip/embedding-space.ts';
import { tokenize } from '../clip/tokenizer.ts';
import { disposeModule } from '../clip/weights.ts';
import { assertDecoderClipSpace } from '../decoder/clip-space.ts';
import { asDecoderUnet, decodeEmbeddings, loadDecoderSchedulerConfig, type DecoderSampler } from '../decoder/sample.ts';
import { readDecoderSchedulerConfig } from '../decoder/scheduler-config.ts';
import { generateEmbeddings } from '../prior/generate.ts';
import { disposePrior, loadPrior, loadPriorFrom, type PriorBundle } from '../prior/train.ts';
import { UNet2DConditionModel, UNet2DConditionModelEmb } from '../unet/model.ts';
import { AutoencoderKL } from '../vae/model.ts';

export interface TextToImageParts {
  /** One CLIP or a MultiCLIP: the space the prior and the decoder work in. */
  clip: ImageTextEncoder;
  /** null: the CLIP text embedding is decoded as the image embedding. */
  prior: PriorBundle | null;
  unet: UNet2DConditionModelEmb;
  /** The decoder's scheduler_config.json: the schedule and prediction_type it was trained with. */
  schedulerConfig: Readonly<Record<string, unknown>>;
  vae: AutoencoderKL;
}

/** Where each part lives on disk: paths as the trainers write them. */
export interface TextToImageSources {
  /**
   * A CLIP checkpoint in any format `openClip` reads (default: the committed default CLIP), or several:
   * a MultiCLIP whose embeddings are theirs side by side (what the prior and decoder were trained on).
   */
  clip?: string | readonly string[];
  /** With several CLIPs: each model's block unit-normalised (default true) or the raw concatenation (the seed's). */
  clipNormalize?: boolean;
  /** A prior run directory (`runs/prior/shifted`), or 'none' for the text embedding itself. */
  prior: string;
  /** The decoder's diffusers folder (`runs/decoder/final`). */
  decoder: string;
  /** The VAE's diffusers folder (`runs/vae/final`). */
  vae: string;
}

export interface TextToImageOptions {
  /** Decoder sampling steps (default 25). */
  steps?: number;
  /** Decoder sampler on its training schedule (default DDIM). */
  sampler?: DecoderSampler;
  /** Decoder classifier-free guidance (default 3; 1 = the conditional model alone). */
  guidance?: number;
  /** Prior sampling steps and guidance (defaults 8 and 1, as the prior's evaluation). */
  priorSteps?: number;
  priorGuidance?: number;
  /** Seeds the prior's sampling and the decoder's starting noise: the same seed gives the same images. */
  seed?: number;
  /** Sees each stage advance (a page's progress bars); see GenerationProgress. */
  onProgress?: (progress: GenerationProgress) => void;
}

/** The stages of text → image, in order. */
export const GENERATION_STAGES = ['text', 'prior', 'decoder', 'vae'] as const;

/**
 * How far one stage is: `done` of `total` units. The text encoder, the prior and the VAE each report
 * 0 of 1 when they start and 1 of 1 when they end; the decoder reports each of its sampling steps.
 * Without a prior, 'prior' reports 1 of 1 at once.
 */
export interface GenerationProgress {
  stage: (typeof GENERATION_STAGES)[number];
  done: number;
  total: number;
}

export interface GeneratedImages {
  /** One RGBA image per caption, `side` × `side`, row-major. */
  images: Uint8Array[];
  side: number;
  /** The image embeddings that were decoded, and the text embeddings they came from ([n, dim] each, normalised as the embedding space is). */
  embeddings: Float32Array;
  textEmbeddings: Float32Array;
  /** Captions longer than the CLIP's context, cut to it (by index). */
  truncated: number[];
  /** Milliseconds per stage: the text encoder, the prior (0 without one), the decoder with the VAE. */
  timings: { textMs: number; priorMs: number; decodeMs: number };
}

/** Frees whichever parts were loaded (a failed load frees what it had). */
function disposeParts(parts: Partial<TextToImageParts>): void {
  for (const part of [parts.unet, parts.vae]) if (part) disposeModule(part);
  if (parts.clip) disposeEncoder(parts.clip);
  if (parts.prior) disposePrior(parts.prior);
}

const clipPaths = (clip: string | readonly string[]): readonly string[] => (typeof clip === 'string' ? [clip] : clip);

export class TextToImagePipeline {
  constructor(readonly parts: TextToImageParts) {
    const dim = embeddingDim(parts.clip);
    if (parts.unet.config.input_dim !== dim) throw new Error(`TextToImagePipeline: the decoder takes ${parts.unet.config.input_dim}-d embeddings, the CLIP makes ${dim}-d ones`);
    if (parts.prior && parts.prior.diffusion.stats.dim !== dim) throw new Error(`TextToImagePipeline: the prior works in ${parts.prior.diffusion.stats.dim} dimensions, the CLIP in ${dim}`);
    if (parts.vae.config.latent_channels !== parts.unet.config.in_channels) {
      throw new Error(`TextToImagePipeline: the VAE's ${parts.vae.config.latent_channels} latent channels do not match the decoder's in_channels ${parts.unet.config.in_channels}`);
    }
  }

  /**
   * Loads every part through a FileLoader (a page's fetchLoader), with paths relative to its root:
   * the committed defaults are `{ clip: 'default-clip.safetensors', prior: 'default-prior/shifted.safetensors',
   * decoder: 'default-decoder', vae: 'default-vae' }` under packages/models/assets/. Each CLIP must be an
   * exportClip file; the decoder and VAE folders hold config.json and diffusion_pytorch_model.safetensors.
   */
  static async fromLoader(loader: FileLoader, sources: Required<Omit<TextToImageSources, 'clipNormalize'>> & Pick<TextToImageSources, 'clipNormalize'>): Promise<TextToImagePipeline> {
    const parts: Partial<TextToImageParts> = {};
    try {
      parts.unet = asDecoderUnet(await UNet2DConditionModel.fromLoader(loader, sources.decoder), sources.decoder);
      parts.schedulerConfig = await loadDecoderSchedulerConfig(loader, sources.decoder);
      parts.vae = (await AutoencoderKL.fromLoader(loader, sources.vae)).eval();
      parts.clip = await loadExportedClipsFrom(loader, clipPaths(sources.clip), { normalize: sources.clipNormalize });
      parts.prior = sources.prior === 'none' ? null : await loadPriorFrom(loader, sources.prior);
      return new TextToImagePipeline(parts as TextToImageParts);
    } catch (e) {
      disposeParts(parts);
      throw e;
    }
  }

  /** Loads every part from disk (see TextToImageSources). */
  static load(sources: TextToImageSources): TextToImagePipeline {
    const parts: Partial<TextToImageParts> = {};
    try {
      parts.unet = asDecoderUnet(UNet2DConditionModel.fromPretrained(sources.decoder), sources.decoder);
      parts.schedulerConfig = readDecoderSchedulerConfig(sources.decoder);
      parts.vae = AutoencoderKL.fromPretrained(sources.vae).eval();
      parts.clip = openClips(clipPaths(sources.clip ?? defaultClipPath()), { normalize: sources.clipNormalize });
      parts.prior = sources.prior === 'none' ? null : loadPrior(sources.prior);
      // A decoder trained here names its embedding space; another CLIP space is refused.
      assertDecoderClipSpace(sources.decoder, parts.clip);
      return new TextToImagePipeline(parts as TextToImageParts);
    } catch (e) {
      disposeParts(parts);
      throw e;
    }
  }

  /** Images for `texts`, generated as one batch; deterministic for a seed. */
  async generate(texts: string[], options: TextToImageOptions = {}): Promise<GeneratedImages> {
    const { priorSteps = 8, priorGuidance = 1, seed = 0 } = options;
    if (texts.length === 0) throw new Error('TextToImagePipeline.generate: no captions');
    const { clip, prior, unet, vae } = this.parts;
    const truncated = tokenize(texts, encoderContextLength(clip)).truncatedRows;
    const report = (stage: GenerationProgress['stage'], done: number, total = 1) => options.onProgress?.({ stage, done, total });
    const t0 = performance.now();
    report('text', 0);
    const textEmbeddings = await embedTextRows(clip, texts);
    report('text', 1);
    const t1 = performance.now();
    report('prior', prior ? 0 : 1);
    const embeddings = prior ? normalizeEmbeddings(clip, await generateEmbeddings(prior, textEmbeddings, { steps: priorSteps, guidance: priorGuidance, seed })) : Float32Array.from(textEmbeddings);
    if (prior) report('prior', 1);
    const t2 = performance.now();
    const { images, side } = await this.decode(embeddings, options);
    return { images, side, embeddings, textEmbeddings, truncated, timings: { textMs: t1 - t0, priorMs: t2 - t1, decodeMs: performance.now() - t2 } };
  }

  /**
   * Images of given image embeddings ([n, dim] rows, normalised as the decoder was trained on: see
   * `normalizeEmbeddings(pipeline.parts.clip, rows)`), with
   * the decoder's part of `options` (steps, guidance, sampler, seed): `generate` without its text side.
   */
  async decode(embeddings: Float32Array, options: TextToImageOptions = {}): Promise<{ images: Uint8Array[]; side: number }> {
    const { steps = 25, guidance = 3, sampler = 'ddim', seed = 0 } = options;
    const { unet, vae, schedulerConfig } = this.parts;
    const dim = unet.config.input_dim;
    if (embeddings.length === 0 || embeddings.length % dim) throw new Error(`TextToImagePipeline.decode: ${embeddings.length} numbers are not rows of the decoder's ${dim}-d embeddings`);
    const count = embeddings.length / dim;
    const latentSide = (vae.config.sample_size as number) / vae.downscale;
    const { onProgress } = options;
    onProgress?.({ stage: 'decoder', done: 0, total: steps });
    const decoded = await decodeEmbeddings(unet, vae, embeddings, count, {
      steps, guidance, sampler, schedulerConfig, side: latentSide, generator: new Generator(seed, 1),
      onStep: onProgress && ((done, total) => {
        onProgress({ stage: 'decoder', done, total });
        // The VAE starts when the last step is done; it reports its end once the pixels are read.
        if (done === total) onProgress({ stage: 'vae', done: 0, total: 1 });
      }),
    });
    onProgress?.({ stage: 'vae', done: 1, total: 1 });
    const side = decoded.side;
    const images = Array.from({ length: count }, (_, k) => {
      const rgba = new Uint8Array(side * side * 4);
      for (let p = 0; p < side * side; p++) {
        rgba.set(decoded.pixels.subarray((k * side * side + p) * 3, (k * side * side + p) * 3 + 3), p * 4);
        rgba[p * 4 + 3] = 255;
      }
      return rgba;
    });
    return { images, side };
  }

  dispose(): void {
    disposeParts(this.parts);
  }
}
