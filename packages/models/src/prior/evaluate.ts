// Evaluation of a prior on held-out (text, image) pairs: how close generated image embeddings are
// to the true ones and to the text, and whether they retrieve the right image (scoreEmbeddings,
// ../eval/retrieval.ts), and how their distribution compares with the real one (../eval/embedding-arms.ts).
import { generateEmbeddings, type GenerateOptions } from './generate.ts';
import type { EmbeddingPairs } from './data.ts';
import type { PriorBundle } from './train.ts';
import { scoreArm, type ArmMetrics } from '../eval/embedding-arms.ts';

/** The prior's embeddings for the held-out captions, scored one by one and as a distribution (scoreArm). */
export async function evaluatePrior(bundle: PriorBundle, heldOut: EmbeddingPairs, options: GenerateOptions = {}): Promise<ArmMetrics> {
  const generated = await generateEmbeddings(bundle, heldOut.text, options);
  return scoreArm(generated, heldOut);
}
