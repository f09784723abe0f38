// The space the prior and the decoder work in: what one CLIP, or a MultiCLIP, makes of images and
// captions, normalised as `sd encode` writes them. One CLIP: unit rows (the clip-retrieval
// convention). A MultiCLIP: each model's block a unit vector (its default), or the raw concatenation
// (the seed's 1536-d ViT-B/16 ‖ ViT-B/32 ‖ RN101). What the prior and the decoder see is made here:
// `sd encode`, the decoder's training data and the text-to-image pipeline embed and renormalise
// through these functions, so a decoder trained on one convention is not fed the other. (MultiCLIP's
// own encodeImage/encodeText, on the GPU, normalise the same way; the evaluation code, which works in
// one CLIP's space, normalises whole rows itself.)
import type { ContrastiveModel } from './contrastive.ts';
import { embedImages, embedTexts } from './evaluate.ts';
import { MultiCLIP } from './model.ts';
import { normalizeBlocksInPlace } from '../math/rows.ts';

/** One CLIP or several side by side. */
export type ImageTextEncoder = ContrastiveModel | MultiCLIP;

/** The encoder's models, in the order their embeddings are concatenated. */
export function encoderModels(encoder: ImageTextEncoder): readonly ContrastiveModel[] {
  return encoder instanceof MultiCLIP ? encoder.models : [encoder];
}

/** Width of each model's block of an embedding row. */
export function embeddingBlocks(encoder: ImageTextEncoder): number[] {
  return encoderModels(encoder).map((m) => m.embedDim);
}

/** Width of a whole embedding row. */
export function embeddingDim(encoder: ImageTextEncoder): number {
  return embeddingBlocks(encoder).reduce((a, b) => a + b, 0);
}

/** The shortest context of the encoder's text towers (each tower cuts a caption to its own; a caption longer than this is cut by at least one). */
export function encoderContextLength(encoder: ImageTextEncoder): number {
  return Math.min(...encoderModels(encoder).map((m) => m.contextLength));
}

/** Whether the space's rows are normalised (per model block); a raw MultiCLIP's are not. */
export function normalizesEmbeddings(encoder: ImageTextEncoder): boolean {
  return encoder instanceof MultiCLIP ? encoder.normalize : true;
}

/** Puts rows [n, dim] into the space's normalisation, in place (a raw MultiCLIP: unchanged); returns them. */
export function normalizeEmbeddings(encoder: ImageTextEncoder, rows: Float32Array): Float32Array {
  return normalizesEmbeddings(encoder) ? normalizeBlocksInPlace(rows, embeddingBlocks(encoder)) : rows;
}

/** Image embeddings [n, dim] in the space; each model sees the images at its own resolution. */
export async function embedImageRows(encoder: ImageTextEncoder, images: { data: Uint8Array; width: number; height: number }[], batch?: number): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for (const model of encoderModels(encoder)) parts.push(await embedImages(model, images, batch));
  return normalizeEmbeddings(encoder, sideBySide(parts, embeddingBlocks(encoder), images.length));
}

/** Caption embeddings [n, dim] in the space (cut to each text tower's context). */
export async function embedTextRows(encoder: ImageTextEncoder, texts: string[], batch?: number): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for (const model of encoderModels(encoder)) parts.push(await embedTexts(model, texts, batch));
  return normalizeEmbeddings(encoder, sideBySide(parts, embeddingBlocks(encoder), texts.length));
}

/** Row r of the result is row r of each part, side by side. */
function sideBySide(parts: Float32Array[], widths: number[], rows: number): Float32Array {
  if (parts.length === 1) return parts[0];
  const width = widths.reduce((a, b) => a + b, 0);
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    let o = r * width;
    parts.forEach((p, k) => {
      out.set(p.subarray(r * widths[k], (r + 1) * widths[k]), o);
      o += widths[k];
    });
  }
  return out;
}

/** Frees every model's weights on the GPU. */
export function disposeEncoder(encoder: ImageTextEncoder): void {
  for (const model of encoderModels(encoder)) model.dispose();
}
