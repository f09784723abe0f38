// Evaluation of a prior on held-out (text, image) pairs: how close generated image embeddings are
// to the true ones and to the text, and whether they retrieve the right image (scoreEmbeddings,
// ../eval/retrieval.ts).
import { generateEmbeddings, type GenerateOptions } from './generate.ts';
import type { EmbeddingPairs } from './data.ts';
import type { PriorBundle } from './train.ts';
import { scoreEmbeddings, type PriorMetrics } from '../eval/retrieval.ts';

export async function evaluatePrior(bundle: PriorBundle, heldOut: EmbeddingPairs, options: GenerateOptions = {}): Promise<PriorMetrics> {
  const generated = await generateEmbeddings(bundle, heldOut.text, options);
  return scoreEmbeddings(generated, heldOut);
}
