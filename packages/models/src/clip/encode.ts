// Encoding images and captions to the clip-retrieval layout used across the LAION ecosystem:
// img_emb/img_emb_0.npy, text_emb/text_emb_0.npy (float32, L2-normalised rows) and
// metadata/metadata_0.jsonl (one JSON line per row: file_name, text and any extra fields).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RgbImage } from '../data/index.ts';
import { writeNpy } from '@sd/io';
import type { ContrastiveModel } from './contrastive.ts';
import { embedImages, embedTexts } from './evaluate.ts';
import { tokenize } from './tokenizer.ts';
import { normalizeRowsInPlace } from '../math/rows.ts';

export interface EncodeItem {
  image: RgbImage;
  text: string;
  metadata?: Record<string, unknown>;
}

/** Encodes items into `outDir` (shard 0); returns the count and how many captions were truncated. */
export async function encodeToRetrievalLayout(model: ContrastiveModel, items: EncodeItem[], outDir: string, shard = 0): Promise<{ count: number; dim: number; truncated: number }> {
  if (items.length === 0) throw new Error(`encode: nothing to encode for ${outDir}`);
  const texts = items.map((i) => i.text);
  const truncated = tokenize(texts, model.contextLength).truncated;
  const img = await embedImages(model, items.map((i) => i.image), 256);
  const txt = await embedTexts(model, texts, 256);
  const dim = img.length / items.length;
  for (const sub of ['img_emb', 'text_emb', 'metadata']) mkdirSync(join(outDir, sub), { recursive: true });
  writeNpy(join(outDir, 'img_emb', `img_emb_${shard}.npy`), normalizeRowsInPlace(img, dim), [items.length, dim]);
  writeNpy(join(outDir, 'text_emb', `text_emb_${shard}.npy`), normalizeRowsInPlace(txt, dim), [items.length, dim]);
  writeFileSync(join(outDir, 'metadata', `metadata_${shard}.jsonl`), items.map((i) => JSON.stringify({ text: i.text, ...i.metadata })).join('\n') + '\n');
  return { count: items.length, dim, truncated };
}
