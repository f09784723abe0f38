// The image-level evaluation (issue 15): every arm's image embeddings of the same captions are
// decoded by the same decoder with the same noise, sampler, steps and guidance, so only the source of
// the embedding differs. The committed judge reads the images against what each caption names, its
// feature layer is the space of judge-FID/KID against fresh renders of the same scenes, and the CLIP
// gives the seed's two similarity axes (image–text and image–image cosine) and a second FID.
import type { CaptionMentions } from '../data/captions.ts';
import { captionMentions } from '../data/captions.ts';
import { replaceScene, renderScene, type SampleAttributes } from '../data/dataset.ts';
import { hashSeed, mulberry32 } from '../data/prng.ts';
import { isHeldOutPair } from '../data/vocabulary.ts';
import type { ContrastiveModel } from '../clip/contrastive.ts';
import { encodeEmbeddings } from '../decoder/data.ts';
import { decodeEmbeddings, type DecoderSampler } from '../decoder/sample.ts';
import { accuracy, readImages, type JudgeAccuracy } from '../judge/evaluate.ts';
import { HEAD_NAMES, UNLABELLED, judgeLabels, type JudgeHead } from '../judge/labels.ts';
import type { JudgeNet } from '../judge/model.ts';
import { normalizeRowsInPlace, rowDot, rowsAt } from '../math/rows.ts';
import { embeddedSplitRow, type EmbeddedSplit } from '../prior/embedded.ts';
import { purposeGenerator } from '../training/rng.ts';
import type { UNet2DConditionModelEmb } from '../unet/model.ts';
import { imageBatch, subsetImages, type ImageSet } from '../vae/images.ts';
import type { AutoencoderKL } from '../vae/model.ts';
import { bootstrapInterval, verdict, type BootstrapOptions, type Interval } from './bootstrap.ts';
import { frechetDistanceOfRows, kernelInceptionDistance } from './distribution.ts';

/** The captions of an embedded split with the scenes behind them. */
export interface EvalScenes {
  split: EmbeddedSplit;
  captions: string[];
  attributes: SampleAttributes[];
  /** Which optional attributes each caption names (colour and shape always). */
  mentions: CaptionMentions[];
  /** The renders the captions were written for (the oracle arm embeds these). */
  real: ImageSet;
  /** The same scenes placed anew (jitter, exact size, rotation): the reference set of FID and KID. */
  fresh: ImageSet;
}

/** A stream apart from every stream the dataset draws from (hashed with each scene's index). */
const FRESH_STREAM = 0xfeed;

/** The first `count` rows of an embedded split, regenerated (embeddedSplitRow), with fresh renders of their scenes. */
export function splitScenes(split: EmbeddedSplit, count: number): EvalScenes {
  const rows = Array.from({ length: count }, (_, i) => embeddedSplitRow(split, i));
  const side = rows[0]?.sample.width ?? 64;
  const pixels = (images: Uint8Array[]) => {
    const out = new Uint8Array(count * side * side * 3);
    images.forEach((im, i) => out.set(im, i * side * side * 3));
    return out;
  };
  const attributes = rows.map((r) => r.sample.attributes);
  const fresh = attributes.map((a, i) => renderScene(replaceScene(a, mulberry32(hashSeed(FRESH_STREAM, rows[i].sample.index))), side as 64));
  return {
    split,
    captions: rows.map((r) => r.caption),
    attributes,
    mentions: rows.map((r) => captionMentions(r.caption)),
    real: { pixels: pixels(rows.map((r) => r.sample.image)), count, side, source: `${split} split, rows 0..${count - 1}` },
    fresh: { pixels: pixels(fresh), count, side, source: `${split} split, rows 0..${count - 1}, placed anew` },
  };
}

/** The first `n` of a set of scenes: every per-row field cut to them (a larger set serves two evaluations). */
export function subsetScenes(scenes: EvalScenes, n: number): EvalScenes {
  return {
    ...scenes,
    captions: scenes.captions.slice(0, n),
    attributes: scenes.attributes.slice(0, n),
    mentions: scenes.mentions.slice(0, n),
    real: subsetImages(scenes.real, 0, n),
    fresh: subsetImages(scenes.fresh, 0, n),
  };
}

/**
 * Judge labels of what each caption pins down: count always, shape and colour for single-object
 * scenes (the judge's labelling), size, position and background only where the caption names them.
 */
export function captionLabels(scenes: Pick<EvalScenes, 'attributes' | 'mentions'>): Record<JudgeHead, Int32Array> {
  const named: Partial<Record<JudgeHead, keyof CaptionMentions>> = { size: 'size', position: 'position', background: 'background' };
  return Object.fromEntries(HEAD_NAMES.map((h) => [h, Int32Array.from(scenes.attributes, (a, i) => {
    const mention = named[h];
    return mention && !scenes.mentions[i][mention] ? UNLABELLED : judgeLabels(a)[h];
  })])) as Record<JudgeHead, Int32Array>;
}

export interface ImageArmMetrics {
  /** The judge against what the captions name (captionLabels). */
  judge: JudgeAccuracy;
  /** Fréchet distance and KID in the judge's feature space (unnormalised features: large values), against the fresh renders. */
  judgeFid: number;
  judgeKid: { mean: number; std: number };
  /** Fréchet distance in the CLIP's image-embedding space, against the fresh renders. */
  clipFid: number;
  /** Mean cosine of the CLIP embedding of each image with its caption's text embedding, and with its real render's image embedding. */
  clipImageText: number;
  clipImageImage: number;
  count: number;
}

/** What an arm's images give per caption, for paired comparisons between arms. */
export interface PerCaption {
  /** 1 right, 0 wrong, NaN where the caption does not name the head. */
  correct: Record<JudgeHead, Float64Array>;
  clipImageText: Float64Array;
  clipImageImage: Float64Array;
  /** Judge feature rows [count, features]: FID of a resample is computed from them. */
  features: Float32Array;
}

export interface ImageArm {
  metrics: ImageArmMetrics;
  perCaption: PerCaption;
  images: ImageSet;
}

export interface ImageArmParts {
  unet: UNet2DConditionModelEmb;
  vae: AutoencoderKL;
  /** The decoder's scheduler_config.json. */
  schedulerConfig: Readonly<Record<string, unknown>>;
  clip: ContrastiveModel;
  judge: JudgeNet;
}

export interface DecodeSettings {
  steps: number;
  guidance: number;
  sampler: DecoderSampler;
  /** Seeds the starting noise; every arm starts image i from the same noise. */
  seed: number;
  batchSize: number;
}

/** The fixed side of an evaluation: the scenes' labels, the real and fresh renders read once. */
export interface EvalReference {
  scenes: EvalScenes;
  labels: Record<JudgeHead, Int32Array>;
  heldOut: boolean[];
  /** Unit text embeddings of the captions and CLIP image embeddings of the real renders, [count, dim]. */
  text: Float32Array;
  realClip: Float32Array;
  freshClip: Float32Array;
  freshFeatures: Float32Array;
}

export async function evalReference(parts: Pick<ImageArmParts, 'clip' | 'judge'>, scenes: EvalScenes, text: Float32Array): Promise<EvalReference> {
  const dim = parts.clip.embedDim;
  if (text.length !== scenes.captions.length * dim) throw new Error(`evalReference: ${text.length / dim} text embeddings for ${scenes.captions.length} captions`);
  const fresh = await readImages(parts.judge, imageBatch(scenes.fresh, Int32Array.from({ length: scenes.fresh.count }, (_, i) => i)), scenes.fresh.count);
  return {
    scenes,
    labels: captionLabels(scenes),
    heldOut: scenes.attributes.map((a) => a.objects.some((o) => isHeldOutPair(o.shape, o.colour))),
    text: normalizeRowsInPlace(Float32Array.from(text), dim),
    realClip: await encodeEmbeddings(parts.clip, scenes.real),
    freshClip: await encodeEmbeddings(parts.clip, scenes.fresh),
    freshFeatures: fresh.features,
  };
}

/**
 * Decodes one arm's image embeddings ([count, dim], one per caption; rows are L2-normalised as the
 * decoder was trained) and scores the images against the reference.
 */
export async function evaluateImageArm(parts: ImageArmParts, ref: EvalReference, embeddings: Float32Array, o: DecodeSettings, onProgress?: (done: number, total: number) => void): Promise<ImageArm> {
  const { unet, vae, clip, judge } = parts;
  const count = ref.scenes.captions.length;
  const dim = clip.embedDim;
  if (embeddings.length !== count * dim) throw new Error(`evaluateImageArm: ${embeddings.length / dim} embeddings for ${count} captions`);
  const unit = normalizeRowsInPlace(Float32Array.from(embeddings), dim);
  const side = vae.config.sample_size as number;
  const generator = purposeGenerator(o.seed, 'eval/decoder');
  const pixels = new Uint8Array(count * side * side * 3);
  for (let first = 0; first < count; first += o.batchSize) {
    const n = Math.min(o.batchSize, count - first);
    const decoded = await decodeEmbeddings(unet, vae, unit.subarray(first * dim, (first + n) * dim), n, {
      steps: o.steps, guidance: o.guidance, sampler: o.sampler, schedulerConfig: parts.schedulerConfig, side: side / vae.downscale, generator,
    });
    pixels.set(decoded.pixels, first * side * side * 3);
    onProgress?.(first + n, count);
  }
  const images: ImageSet = { pixels, count, side, source: `decoded (${o.steps} ${o.sampler} steps, guidance ${o.guidance}, seed ${o.seed})` };
  const reading = await readImages(judge, imageBatch(images, Int32Array.from({ length: count }, (_, i) => i)), count);
  const generatedClip = await encodeEmbeddings(clip, images);
  const correct = Object.fromEntries(HEAD_NAMES.map((h) => [h, Float64Array.from(ref.labels[h], (label, i) => (label === UNLABELLED ? NaN : Number(reading.predictions[h][i] === label)))])) as Record<JudgeHead, Float64Array>;
  const cosines = (other: Float32Array) => Float64Array.from({ length: count }, (_, i) => rowDot(generatedClip, i, other, i, dim));
  const perCaption: PerCaption = { correct, clipImageText: cosines(ref.text), clipImageImage: cosines(ref.realClip), features: reading.features };
  const features = judge.config.features;
  const mean = (x: Float64Array) => x.reduce((a, b) => a + b, 0) / x.length;
  const metrics: ImageArmMetrics = {
    judge: accuracy(reading.predictions, ref.labels, ref.heldOut),
    judgeFid: frechetDistanceOfRows(reading.features, ref.freshFeatures, features),
    // Subsets of half the set (at most 1000, as usual) so that they differ and the spread means something.
    judgeKid: kernelInceptionDistance(reading.features, ref.freshFeatures, features, { subsets: 100, subsetSize: Math.min(1000, Math.max(2, Math.floor(count / 2))), random: mulberry32(o.seed + 1) }),
    clipFid: frechetDistanceOfRows(generatedClip, ref.freshClip, dim),
    clipImageText: mean(perCaption.clipImageText),
    clipImageImage: mean(perCaption.clipImageImage),
    count,
  };
  return { metrics, perCaption, images };
}

/** The paired comparisons of two arms (A − B): judge accuracy per head and overall, the CLIP cosines, judge-FID. */
export type ImageComparisonKey = `judge ${JudgeHead}` | 'judge all named' | 'CLIP image–text' | 'CLIP image–image' | 'judge-FID';

export interface ImageComparison extends Interval {
  verdict: 'A higher' | 'A lower' | 'no difference';
}

/**
 * Paired bootstrap 95% intervals of A − B over captions (one resample of caption indices scores both
 * arms). Accuracies average over the captions that name the head; "all named" needs every named head
 * of a single-object caption right; judge-FID is recomputed on each resample's rows (`fidResamples`,
 * default 200: each costs two eigendecompositions), with the basic interval (bias-corrected). Given several training seeds of each arm (a[s]
 * and b[s] trained with seed s), each statistic is the mean over seeds of A − B on the resample.
 */
export function compareImageArms(a: PerCaption | readonly PerCaption[], b: PerCaption | readonly PerCaption[], ref: EvalReference, features: number, options: BootstrapOptions & { fidResamples?: number } = {}): Record<ImageComparisonKey, ImageComparison> {
  const seedsA = Array.isArray(a) ? (a as readonly PerCaption[]) : [a as PerCaption];
  const seedsB = Array.isArray(b) ? (b as readonly PerCaption[]) : [b as PerCaption];
  if (seedsA.length === 0 || seedsA.length !== seedsB.length) throw new Error(`compareImageArms: ${seedsA.length} and ${seedsB.length} seeds (need the same, at least one)`);
  const n = seedsA[0].clipImageText.length;
  const meanOver = (x: Float64Array, idx: Int32Array) => {
    let s = 0;
    let k = 0;
    for (const i of idx) if (!Number.isNaN(x[i])) (s += x[i]), k++;
    return k ? s / k : NaN;
  };
  const allNamed = (p: PerCaption) => Float64Array.from({ length: n }, (_, i) => (ref.labels.shape[i] === UNLABELLED ? NaN : Number(HEAD_NAMES.every((h) => Number.isNaN(p.correct[h][i]) || p.correct[h][i] === 1))));
  const column: [ImageComparisonKey, (p: PerCaption) => Float64Array][] = [
    ...HEAD_NAMES.map((h) => [`judge ${h}` as ImageComparisonKey, (p: PerCaption) => p.correct[h]] as [ImageComparisonKey, (p: PerCaption) => Float64Array]),
    ['judge all named', allNamed],
    ['CLIP image–text', (p) => p.clipImageText],
    ['CLIP image–image', (p) => p.clipImageImage],
  ];
  const say = (i: Interval): ImageComparison => ({ ...i, verdict: ({ higher: 'A higher', lower: 'A lower', 'no difference': 'no difference' } as const)[verdict(i)] });
  /** The mean over seeds of statistic(A_s) − statistic(B_s). */
  const seedMean = (difference: (s: number) => number) => seedsA.reduce((sum, _, s) => sum + difference(s), 0) / seedsA.length;
  const out = Object.fromEntries(column.map(([key, of]) => {
    const [x, y] = [seedsA.map(of), seedsB.map(of)];
    return [key, say(bootstrapInterval(n, (idx) => seedMean((s) => meanOver(x[s], idx) - meanOver(y[s], idx)), options))];
  })) as Record<ImageComparisonKey, ImageComparison>;
  const fid = (idx: Int32Array) => {
    const fresh = rowsAt(ref.freshFeatures, idx, features);
    const fd = (p: PerCaption) => frechetDistanceOfRows(rowsAt(p.features, idx, features), fresh, features);
    return seedMean((s) => fd(seedsA[s]) - fd(seedsB[s]));
  };
  // A Fréchet distance is biased at finite n (the basic interval corrects it; see bootstrap.ts).
  out['judge-FID'] = say(bootstrapInterval(n, fid, { ...options, resamples: options.fidResamples ?? 200, method: 'basic' }));
  return out;
}
