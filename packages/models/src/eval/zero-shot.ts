// Zero-shot classification of host embeddings by prompt ensembles, model-independent: image rows
// against each class's prompt rows (the procedural dataset's tasks are in ../data/zero-shot.ts).
import { normalizeRowsInPlace, rowDot } from '../math/rows.ts';

/**
 * How one class's prompts become its score. Each class's prompts enumerate the attributes it leaves
 * free ("a photo of a {colour} star" for every colour), most of which are plainly wrong for a given
 * image, so the two rules differ:
 *  - 'marginal': log Σ_prompts exp(s·cos(image, prompt)), s the model's logit scale: the class's
 *    probability under the model's own softmax over every caption, free attributes summed out.
 *  - 'mean': cos(image, normalised mean of the prompt embeddings), CLIP's recipe for paraphrase
 *    ensembles; averaging in wrong-colour prompts dilutes (and biases) the evidence.
 */
export type ZeroShotRule = 'marginal' | 'mean';

/**
 * Predicted class of every image: `images` [N, dim] and each `classPrompts[c]` [P_c, dim] hold
 * unit rows; `logitScale` is s (not its log).
 */
export function classifyZeroShot(images: Float32Array, classPrompts: Float32Array[], dim: number, rule: ZeroShotRule, logitScale: number): number[] {
  const means = rule !== 'mean' ? [] : classPrompts.map((prompts) => {
    const mean = new Float32Array(dim);
    for (let p = 0; p < prompts.length / dim; p++) for (let d = 0; d < dim; d++) mean[d] += prompts[p * dim + d];
    return normalizeRowsInPlace(mean, dim);
  });
  const score = (i: number, c: number): number => {
    if (rule === 'mean') return rowDot(images, i, means[c], 0, dim);
    const logits = Array.from({ length: classPrompts[c].length / dim }, (_, p) => logitScale * rowDot(images, i, classPrompts[c], p, dim));
    const top = Math.max(...logits);
    return top + Math.log(logits.reduce((acc, l) => acc + Math.exp(l - top), 0));
  };
  return Array.from({ length: images.length / dim }, (_, i) => {
    const scores = classPrompts.map((_, c) => score(i, c));
    return scores.indexOf(Math.max(...scores));
  });
}
