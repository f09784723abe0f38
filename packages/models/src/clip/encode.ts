// Encoding images and captions to the clip-retrieval layout used across the LAION ecosystem:
// img_emb/img_emb_0.npy, text_emb/text_emb_0.npy (float32, L2-normalised rows) and
// metadata/metadata_0.jsonl (one JSON line per row: file_name, text and any extra fields).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RgbImage } from '../data/index.ts';
import { writeNpy } from '@sd/io';
import type { ContrastiveModel } from './contrastive.ts';
import { MultiCLIP } from './model.ts';
import { embedImages, embedTexts } from './evaluate.ts';
import { tokenize } from './tokenizer.ts';
import { normalizeRowsInPlace } from '../math/rows.ts';

export interface EncodeItem {
  image: RgbImage;
  text: string;
  metadata?: Record<string, unknown>;
}

/**
 * What `encodeToRetrievalLayout` encodes with: one CLIP, whose rows are L2-normalised (the
 * clip-retrieval convention), or a MultiCLIP, whose rows are its concatenation — each model's
 * embedding unit-normalised when `multi.normalize` (the project's default), raw otherwise (the seed:
 * ViT-B/16 ‖ ViT-B/32 ‖ RN101, 1536-d, not normalised). Each model sees the images at its own
 * resolution.
 */
export type ImageTextEncoder = ContrastiveModel | MultiCLIP;

/** Encodes items into `outDir` (shard 0); returns the count and how many captions were truncated. */
export async function encodeToRetrievalLayout(encoder: ImageTextEncoder, items: EncodeItem[], outDir: string, shard = 0): Promise<{ count: number; dim: number; truncated: number }> {
  if (items.length === 0) throw new Error(`encode: nothing to encode for ${outDir}`);
  const texts = items.map((i) => i.text);
  const models = encoder instanceof MultiCLIP ? encoder.models : [encoder];
  const truncated = tokenize(texts, Math.min(...models.map((m) => m.contextLength))).truncated;
  const img: Float32Array[] = [];
  const txt: Float32Array[] = [];
  for (const model of models) {
    img.push(await embedImages(model, items.map((i) => i.image), 256));
    txt.push(await embedTexts(model, texts, 256));
  }
  const dims = img.map((e) => e.length / items.length);
  // A single CLIP's rows are normalised (the layout's convention); a MultiCLIP's per its option.
  const normalize = encoder instanceof MultiCLIP ? encoder.normalize : true;
  if (normalize) models.forEach((_, k) => (normalizeRowsInPlace(img[k], dims[k]), normalizeRowsInPlace(txt[k], dims[k])));
  const dim = dims.reduce((a, b) => a + b, 0);
  for (const sub of ['img_emb', 'text_emb', 'metadata']) mkdirSync(join(outDir, sub), { recursive: true });
  writeNpy(join(outDir, 'img_emb', `img_emb_${shard}.npy`), concatColumns(img, dims, items.length), [items.length, dim]);
  writeNpy(join(outDir, 'text_emb', `text_emb_${shard}.npy`), concatColumns(txt, dims, items.length), [items.length, dim]);
  writeFileSync(join(outDir, 'metadata', `metadata_${shard}.jsonl`), items.map((i) => JSON.stringify({ text: i.text, ...i.metadata })).join('\n') + '\n');
  return { count: items.length, dim, truncated };
}

/** Row r of the result is row r of each part, side by side. */
function concatColumns(parts: Float32Array[], dims: number[], rows: number): Float32Array {
  if (parts.length === 1) return parts[0];
  const width = dims.reduce((a, b) => a + b, 0);
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    let o = r * width;
    parts.forEach((p, k) => {
      out.set(p.subarray(r * dims[k], (r + 1) * dims[k]), o);
      o += dims[k];
    });
  }
  return out;
}
