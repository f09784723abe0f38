// Reading images with the judge: class predictions per head and the feature layer (the space of
// judge-FID/KID), batched; and its accuracy on fresh test renders with their exact labels.
import { noGrad, tensor, tidy } from '@sd/autograd';
import { judgeBatch, JUDGE_TEST_INDEX } from './data.ts';
import { HEAD_NAMES, JUDGE_HEADS, UNLABELLED, judgeLabels, type JudgeHead } from './labels.ts';
import { imageBatch, type ImageSet } from '../vae/images.ts';
import { isHeldOutPair } from '../data/vocabulary.ts';
import type { SampleAttributes } from '../data/dataset.ts';
import type { JudgeNet } from './model.ts';

export interface JudgeReading {
  /** Predicted class per head, per image. */
  predictions: Record<JudgeHead, Int32Array>;
  /** [N, features] feature rows. */
  features: Float32Array;
}

/** Classifies images [N, 3, side, side] in [-1, 1] (host floats), `batch` at a time. */
export async function readImages(judge: JudgeNet, images: Float32Array, count: number, batch = 64): Promise<JudgeReading> {
  const side = judge.config.side;
  const per = 3 * side * side;
  if (images.length !== count * per) throw new Error(`judge: ${images.length} values are not ${count} images of 3×${side}×${side}`);
  const predictions = Object.fromEntries(HEAD_NAMES.map((h) => [h, new Int32Array(count)])) as Record<JudgeHead, Int32Array>;
  const features = new Float32Array(count * judge.config.features);
  for (let start = 0; start < count; start += batch) {
    const n = Math.min(batch, count - start);
    const out = tidy(() => noGrad(() => {
      const x = tensor(images.subarray(start * per, (start + n) * per), [n, 3, side, side]);
      const f = judge.features(x);
      const logits = judge.heads.forward(f);
      return [f.keep(), logits.keep()];
    }));
    const [f, logits] = await Promise.all(out.map((t) => t.read()));
    for (const t of out) t.dispose();
    features.set(f, start * judge.config.features);
    const width = logits.length / n;
    let offset = 0;
    for (const h of HEAD_NAMES) {
      const classes = JUDGE_HEADS[h].length;
      for (let k = 0; k < n; k++) {
        let best = 0;
        for (let c = 1; c < classes; c++) if (logits[k * width + offset + c] > logits[k * width + offset + best]) best = c;
        predictions[h][start + k] = best;
      }
      offset += classes;
    }
  }
  return { predictions, features };
}

export interface JudgeAccuracy {
  /** Per head: correct / labelled images. */
  perHead: Record<JudgeHead, number>;
  /** Single-object images with every labelled head right. */
  allCorrect: number;
  /** The same per head, separately for scenes of the training pairs and of the held-out pairs. */
  byPairs: Record<'train pairs' | 'held-out pairs', Record<JudgeHead, number>>;
  count: number;
}

/** Accuracy against labels (UNLABELLED heads skipped); `heldOut[k]`: image k shows held-out pairs. */
export function accuracy(predictions: Record<JudgeHead, Int32Array>, labels: Record<JudgeHead, Int32Array>, heldOut: ArrayLike<boolean>): JudgeAccuracy {
  const count = labels.count.length;
  const rate = (h: JudgeHead, keep: (k: number) => boolean) => {
    let right = 0;
    let total = 0;
    for (let k = 0; k < count; k++) {
      if (labels[h][k] === UNLABELLED || !keep(k)) continue;
      total++;
      if (predictions[h][k] === labels[h][k]) right++;
    }
    return total ? right / total : NaN;
  };
  const perHeadWhere = (keep: (k: number) => boolean) => Object.fromEntries(HEAD_NAMES.map((h) => [h, rate(h, keep)])) as Record<JudgeHead, number>;
  let singles = 0;
  let allRight = 0;
  for (let k = 0; k < count; k++) {
    if (labels.shape[k] === UNLABELLED) continue;
    singles++;
    // Heads a scene leaves unlabelled (e.g. what a caption does not name) do not count against it.
    if (HEAD_NAMES.every((h) => labels[h][k] === UNLABELLED || predictions[h][k] === labels[h][k])) allRight++;
  }
  return {
    perHead: perHeadWhere(() => true),
    allCorrect: singles ? allRight / singles : NaN,
    byPairs: { 'train pairs': perHeadWhere((k) => !heldOut[k]), 'held-out pairs': perHeadWhere((k) => !!heldOut[k]) },
    count,
  };
}

/** The judge on `count` fresh test renders (clean, no augmentation). */
export async function evaluateJudge(judge: JudgeNet, count = 2000): Promise<JudgeAccuracy> {
  const indices = Int32Array.from({ length: count }, (_, i) => JUDGE_TEST_INDEX + i);
  const batch = judgeBatch(indices, null, judge.config.side);
  const reading = await readImages(judge, batch.images, count);
  // Odd indices draw the held-out pairs (judgeScene).
  return accuracy(reading.predictions, batch.labels, Array.from(indices, (i) => i % 2 === 1));
}

/**
 * The judge on an image set whose scenes are known (e.g. the real images of the decoder's oracle
 * check, or the images decoded from their embeddings, judged against the scenes they should show).
 */
export async function judgeImageSet(judge: JudgeNet, set: ImageSet, attributes: readonly SampleAttributes[]): Promise<JudgeAccuracy> {
  if (set.side !== judge.config.side) throw new Error(`judge: it reads ${judge.config.side}×${judge.config.side} images, the set ${set.source} has ${set.side}×${set.side}`);
  if (attributes.length !== set.count) throw new Error(`judge: ${attributes.length} scenes for ${set.count} images`);
  const reading = await readImages(judge, imageBatch(set, Int32Array.from({ length: set.count }, (_, i) => i)), set.count);
  const labels = Object.fromEntries(HEAD_NAMES.map((h) => [h, Int32Array.from(attributes, (a) => judgeLabels(a)[h])])) as Record<JudgeHead, Int32Array>;
  const heldOut = attributes.map((a) => a.objects.some((o) => isHeldOutPair(o.shape, o.colour)));
  return accuracy(reading.predictions, labels, heldOut);
}
