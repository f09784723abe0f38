// Encoding images and captions to the clip-retrieval layout used across the LAION ecosystem:
// img_emb/img_emb_0.npy, text_emb/text_emb_0.npy (float32 rows of the encoder's embedding space:
// L2-normalised for one CLIP) and
// metadata/metadata_0.jsonl (one JSON line per row: file_name, text and any extra fields).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RgbImage } from '../data/index.ts';
import { writeNpy } from '@sd/io';
import { embedImageRows, embedTextRows, encoderContextLength, type ImageTextEncoder } from './embedding-space.ts';
import { tokenize } from './tokenizer.ts';

export interface EncodeItem {
  image: RgbImage;
  text: string;
  metadata?: Record<string, unknown>;
}

/** Encodes items into `outDir` (shard 0); returns the count and how many captions were truncated. */
export async function encodeToRetrievalLayout(encoder: ImageTextEncoder, items: EncodeItem[], outDir: string, shard = 0): Promise<{ count: number; dim: number; truncated: number }> {
  if (items.length === 0) throw new Error(`encode: nothing to encode for ${outDir}`);
  const texts = items.map((i) => i.text);
  const truncated = tokenize(texts, encoderContextLength(encoder)).truncated;
  // Rows as the embedding space has them: a single CLIP's unit rows (the layout's convention), a
  // MultiCLIP's blocks per its option (embedding-space.ts).
  const img = await embedImageRows(encoder, items.map((i) => i.image), 256);
  const txt = await embedTextRows(encoder, texts, 256);
  const dim = img.length / items.length;
  for (const sub of ['img_emb', 'text_emb', 'metadata']) mkdirSync(join(outDir, sub), { recursive: true });
  writeNpy(join(outDir, 'img_emb', `img_emb_${shard}.npy`), img, [items.length, dim]);
  writeNpy(join(outDir, 'text_emb', `text_emb_${shard}.npy`), txt, [items.length, dim]);
  writeFileSync(join(outDir, 'metadata', `metadata_${shard}.jsonl`), items.map((i) => JSON.stringify({ text: i.text, ...i.metadata })).join('\n') + '\n');
  return { count: items.length, dim, truncated };
}
