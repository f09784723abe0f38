// The commands' option parsing, in one place: every numeric option of every command is validated
// here (an integer or a number, in its range), with an error naming the option and the value given,
// before any data is loaded or any training starts.
import { DECODER_SAMPLERS, PRIOR_CONFIGS, PRIOR_LOSS_WEIGHTS, SEED_OPTIMIZER, type DecoderSampler, VAE_SCHEDULES, type DecoderTrainSettings, type JudgeTrainSettings, type PriorConfig, type TrainSettings, type VaeTrainSettings } from '@sd/models';
import { EMBEDDED_SPLITS, type EmbeddedSplit } from './commands/build-embedded.ts';

export interface Range {
  min?: number;
  max?: number;
  /** The minimum itself is not allowed (e.g. a learning rate must be > 0). */
  exclusiveMin?: boolean;
  /** The maximum itself is not allowed (e.g. an EMA decay must be < 1). */
  exclusiveMax?: boolean;
}

/** Seeds are hashed as up to 32-bit integers everywhere (dataset, training streams). */
const MAX_SEED = 2 ** 32 - 1;

function describe(kind: string, { min, max, exclusiveMin, exclusiveMax }: Range): string {
  if (min !== undefined && max !== undefined) return `${kind} in ${exclusiveMin ? '(' : '['}${min}, ${max}${exclusiveMax ? ')' : ']'}`;
  if (min !== undefined) return `${kind} ${exclusiveMin ? '>' : '≥'} ${min}`;
  if (max !== undefined) return `${kind} ${exclusiveMax ? '<' : '≤'} ${max}`;
  return kind;
}

function check(option: string, value: string, n: number, kind: string, range: Range): number {
  const { min, max, exclusiveMin, exclusiveMax } = range;
  const outside = (min !== undefined && (exclusiveMin ? n <= min : n < min)) || (max !== undefined && (exclusiveMax ? n >= max : n > max));
  if (value.trim() === '' || !Number.isFinite(n) || outside) throw new Error(`--${option} must be ${describe(kind, range)}, got "${value}"`);
  return n;
}

/** An integer option (`--steps 800`). */
export function integer(option: string, value: string, range: Range = {}): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new Error(`--${option} must be ${describe('an integer', range)}, got "${value}"`);
  return check(option, value, n, 'an integer', range);
}

/** A real-valued option (`--lr 3e-4`). */
export function number(option: string, value: string, range: Range = {}): number {
  return check(option, value, Number(value), 'a number', range);
}

/** One of a fixed set of words (`--schedule cosine`). */
export function choice<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new Error(`--${option} must be one of ${allowed.join(', ')}, got "${value}"`);
  return value as T;
}

export const seed = (option: string, value: string) => integer(option, value, { min: 0, max: MAX_SEED });
const optional = <T>(value: string | undefined, parse: (v: string) => T): T | undefined => (value === undefined ? undefined : parse(value));

export interface TrainPriorCli {
  data?: string;
  holdout?: string;
  size: string;
  steps: string;
  batchSize: string;
  lr: string;
  clusters: string;
  stdScale: string;
  dropText: string;
  seed: string;
  baseline?: boolean;
  compare: boolean;
  resume?: boolean;
  /** Commander's --no-record: false runs every step eagerly. */
  record?: boolean;
  /** Several training seeds, comma-separated (replaces --seed). */
  seeds?: string;
  evalSplit: string;
  bootstrap: string;
  ema: string;
  lossWeight: string;
  out: string;
  evalSteps: string;
  guidance: string;
}

/** --eval-split: which split of the embedded default the evaluation reads ('validation' unless told). */
export function parseEvalSplit(o: { evalSplit: string; data?: string }): 'validation' | 'test' {
  if (o.evalSplit !== 'validation' && o.evalSplit !== 'test') throw new Error(`--eval-split must be 'validation' or 'test', got "${o.evalSplit}"`);
  if (o.data && o.evalSplit === 'test') throw new Error('--eval-split test applies to the embedded default; with --data the held-out pairs are the last --holdout rows');
  return o.evalSplit;
}

export function parseTrainPrior(o: TrainPriorCli): { model: PriorConfig; settings: TrainSettings; seeds: number[]; evalSplit: 'validation' | 'test'; bootstrap: number; holdout?: number; evalSteps: number; guidance: number } {
  const model = PRIOR_CONFIGS[o.size as keyof typeof PRIOR_CONFIGS];
  if (!model) throw new Error(`--size must be one of ${Object.keys(PRIOR_CONFIGS).join(', ')}, got "${o.size}"`);
  const steps = integer('steps', o.steps, { min: 1 });
  const settings: TrainSettings = {
    steps,
    batchSize: integer('batch-size', o.batchSize, { min: 1 }),
    lr: number('lr', o.lr, { min: 0, exclusiveMin: true }),
    betas: SEED_OPTIMIZER.betas,
    weightDecay: SEED_OPTIMIZER.weightDecay,
    eps: SEED_OPTIMIZER.eps,
    maxGradNorm: SEED_OPTIMIZER.maxGradNorm,
    warmupSteps: Math.min(100, Math.floor(steps / 10)),
    clusters: integer('clusters', o.clusters, { min: 1 }),
    stdScale: number('std-scale', o.stdScale, { min: 0, exclusiveMin: true }),
    dropText: number('drop-text', o.dropText, { min: 0, max: 1 }),
    seed: seed('seed', o.seed),
    baseline: false,
    // A decay of 1 would never move the averages; 0 turns EMA off.
    emaDecay: number('ema', o.ema, { min: 0, max: 1, exclusiveMax: true }),
    checkpointEvery: 250,
    logEvery: 25,
  };
  // Recorded only when it is not the seed's, so runs from before the option still resume.
  const lossWeight = choice('loss-weight', o.lossWeight, PRIOR_LOSS_WEIGHTS);
  if (lossWeight !== 'one-minus-alpha-bar') settings.lossWeight = lossWeight;
  const seeds = o.seeds === undefined ? [settings.seed] : o.seeds.split(',').map((s) => seed('seeds', s.trim()));
  if (new Set(seeds).size !== seeds.length) throw new Error(`--seeds lists a seed twice: ${o.seeds}`);
  return {
    model,
    settings,
    seeds,
    evalSplit: parseEvalSplit(o),
    bootstrap: integer('bootstrap', o.bootstrap, { min: 10 }),
    holdout: optional(o.holdout, (v) => integer('holdout', v, { min: 1 })),
    // Checked now, not after minutes of training: sampling cannot take more steps than the schedule has.
    evalSteps: integer('eval-steps', o.evalSteps, { min: 1, max: model.timesteps }),
    guidance: number('guidance', o.guidance, { min: 0 }),
  };
}

export interface EvalPriorCli {
  run: string;
  data?: string;
  holdout?: string;
  steps: string;
  guidance: string;
  seed: string;
  evalSplit: string;
}

export function parseEvalPrior(o: EvalPriorCli): { holdout?: number; evalSplit: 'validation' | 'test'; sampling: { steps: number; guidance: number; seed: number } } {
  return {
    holdout: optional(o.holdout, (v) => integer('holdout', v, { min: 1 })),
    evalSplit: parseEvalSplit(o),
    sampling: { steps: integer('steps', o.steps, { min: 1 }), guidance: number('guidance', o.guidance, { min: 0 }), seed: seed('seed', o.seed) },
  };
}

export interface TrainClipCli {
  steps: string;
  batchSize: string;
  lr: string;
  seed: string;
  resolution?: string;
  patchSize?: string;
  contrast: string;
  groupSize: string;
  contrastOn: string;
  init?: string;
  out: string;
  resume?: boolean;
  export?: string | boolean;
  evalCount: string;
}

export function parseTrainClip(o: TrainClipCli) {
  const steps = integer('steps', o.steps, { min: 1 });
  return {
    steps,
    batchSize: integer('batch-size', o.batchSize, { min: 1 }),
    lr: number('lr', o.lr, { min: 0, exclusiveMin: true }),
    seed: seed('seed', o.seed),
    resolution: optional(o.resolution, (v) => integer('resolution', v, { min: 1 })),
    patchSize: optional(o.patchSize, (v) => integer('patch-size', v, { min: 1 })),
    contrast: number('contrast', o.contrast, { min: 0, max: 1 }),
    groupSize: integer('group-size', o.groupSize, { min: 1 }),
    evalCount: integer('eval-count', o.evalCount, { min: 1 }),
  };
}

export function parseEvalClip(o: { evalCount: string; n: string; seed: string }): { evalCount: number; n: number; seed: number } {
  return { evalCount: integer('eval-count', o.evalCount, { min: 1 }), n: integer('n', o.n, { min: 2 }), seed: integer('seed', o.seed, { min: 0 }) };
}

export function parseBuildEmbedded(o: { train: string; validation: string; test: string; splits: string }): { counts: Record<EmbeddedSplit, number>; splits: EmbeddedSplit[] } {
  const splits = o.splits.split(',').map((s) => s.trim());
  for (const s of splits) if (!(EMBEDDED_SPLITS as readonly string[]).includes(s)) throw new Error(`--splits: unknown split "${s}" (choose from ${EMBEDDED_SPLITS.join(', ')})`);
  return {
    counts: { train: integer('train', o.train, { min: 1 }), validation: integer('validation', o.validation, { min: 1 }), test: integer('test', o.test, { min: 1 }) },
    splits: splits as EmbeddedSplit[],
  };
}

export interface TrainVaeCli {
  data?: string;
  holdout?: string;
  steps: string;
  batchSize: string;
  lr: string;
  klWeight: string;
  seed: string;
  resume?: boolean;
  out: string;
  zeroShotCount: string;
  widths: string;
  normGroups: string;
  crop: string;
  cropShare: string;
  schedule: string;
}

/** The VAE's and the decoder's optimiser: AdamW with PyTorch's defaults, clipping at 1, warm-up over min(100, steps/10). */
function adamwDefaults(steps: number) {
  return { betas: [0.9, 0.999] as [number, number], weightDecay: 0.01, eps: 1e-8, maxGradNorm: 1, warmupSteps: Math.min(100, Math.floor(steps / 10)) };
}

export function parseTrainVae(o: TrainVaeCli): { settings: VaeTrainSettings; holdout?: number; zeroShotCount: number; widths: number[]; normGroups: number } {
  const normGroups = integer('norm-groups', o.normGroups, { min: 1 });
  const widths = o.widths.split(',').map((w) => integer('widths', w.trim(), { min: 1 }));
  if (widths.length !== 3) throw new Error(`--widths must be three channel counts, one per block, got "${o.widths}"`);
  const bad = widths.find((w) => w % normGroups !== 0);
  if (bad !== undefined) throw new Error(`--widths ${o.widths}: ${bad} is not divisible by --norm-groups ${normGroups} (GroupNorm splits every width into that many groups)`);
  const steps = integer('steps', o.steps, { min: 1 });
  // Two downsamplings (three blocks): the window must split into whole latent pixels, and fit the 64×64 images.
  const crop = integer('crop', o.crop, { min: 4, max: 64 });
  if (crop % 4 !== 0) throw new Error(`--crop must be a multiple of 4 (the VAE's downscale factor: whole latent pixels), got "${o.crop}"`);
  const settings: VaeTrainSettings = {
    steps,
    batchSize: integer('batch-size', o.batchSize, { min: 1 }),
    lr: number('lr', o.lr, { min: 0, exclusiveMin: true }),
    ...adamwDefaults(steps),
    klWeight: number('kl-weight', o.klWeight, { min: 0 }),
    crop,
    cropShare: number('crop-share', o.cropShare, { min: 0, max: 1 }),
    schedule: choice('schedule', o.schedule, VAE_SCHEDULES),
    seed: seed('seed', o.seed),
    checkpointEvery: 250,
    logEvery: 25,
  };
  return { settings, holdout: optional(o.holdout, (v) => integer('holdout', v, { min: 1 })), zeroShotCount: integer('zero-shot-count', o.zeroShotCount, { min: 0 }), widths, normGroups };
}

export interface TrainDecoderCli {
  vae?: string;
  /** Repeatable: several make a MultiCLIP (none: the committed default CLIP). */
  clip?: string[];
  clipNormalize?: string;
  data?: string;
  holdout?: string;
  steps: string;
  batchSize: string;
  lr: string;
  seed: string;
  sampleEvery: string;
  prediction: string;
  /** Linear lr decay to 0 over the last n steps (absent or 0: none). */
  decaySteps?: string;
  resume?: boolean;
  /** Commander's --no-record: false runs every step eagerly. */
  record?: boolean;
  out: string;
}

/** What `train:decoder --prediction` may train the UNet to predict. */
export const DECODER_PREDICTIONS = ['epsilon', 'v_prediction'] as const;

export function parseTrainDecoder(o: TrainDecoderCli): { settings: DecoderTrainSettings; holdout?: number } {
  const steps = integer('steps', o.steps, { min: 1 });
  const decaySteps = integer('decay-steps', o.decaySteps ?? '0', { min: 0, max: steps });
  const settings: DecoderTrainSettings = {
    steps,
    batchSize: integer('batch-size', o.batchSize, { min: 1 }),
    lr: number('lr', o.lr, { min: 0, exclusiveMin: true }),
    ...adamwDefaults(steps),
    emaDecay: 0.9999,
    conditionDropout: 0.1,
    predictionType: choice('prediction', o.prediction, DECODER_PREDICTIONS),
    // Recorded only when set, so runs without a decay keep their config (and resume) as before.
    ...(decaySteps > 0 ? { decaySteps } : {}),
    seed: seed('seed', o.seed),
    checkpointEvery: 250,
    logEvery: 25,
    sampleEvery: integer('sample-every', o.sampleEvery, { min: 0 }),
    sampleSteps: 10,
    sampleGuidance: 3,
  };
  return { settings, holdout: optional(o.holdout, (v) => integer('holdout', v, { min: 1 })) };
}

export interface SampleCli {
  prior: string;
  /** Absent: runs/decoder/final, else the committed default (parts.ts); likewise the VAE. */
  decoder?: string;
  vae?: string;
  /** Repeatable: several make a MultiCLIP (none: the committed default CLIP). */
  clip?: string[];
  clipNormalize?: string;
  n: string;
  steps: string;
  guidance: string;
  /** ddim, euler or dpm++ (absent: ddim). */
  scheduler?: string;
  /** A .npy of image embeddings ([n, dim] or [dim]) to decode instead of captions. */
  imageEmbedding?: string;
  seed: string;
  out: string;
  outDir?: string;
}

export function parseSample(o: SampleCli): { n: number; steps: number; guidance: number; seed: number; sampler: DecoderSampler } {
  return {
    n: integer('n', o.n, { min: 1 }),
    steps: integer('steps', o.steps, { min: 1 }),
    guidance: number('guidance', o.guidance, { min: 0 }),
    seed: seed('seed', o.seed),
    sampler: choice('scheduler', o.scheduler ?? 'ddim', DECODER_SAMPLERS),
  };
}

export interface TrainJudgeCli {
  steps: string;
  batchSize: string;
  lr: string;
  seed: string;
  evalCount: string;
  resume?: boolean;
  /** Commander's --no-record: false runs every step eagerly. */
  record?: boolean;
  export?: string | boolean;
  out: string;
}

export function parseTrainJudge(o: TrainJudgeCli): { settings: JudgeTrainSettings; evalCount: number } {
  const steps = integer('steps', o.steps, { min: 1 });
  return {
    settings: {
      steps,
      batchSize: integer('batch-size', o.batchSize, { min: 1 }),
      lr: number('lr', o.lr, { min: 0, exclusiveMin: true }),
      ...adamwDefaults(steps),
      seed: seed('seed', o.seed),
      checkpointEvery: 250,
      logEvery: 25,
    },
    evalCount: integer('eval-count', o.evalCount, { min: 1 }),
  };
}

export interface EvalDecoderCli {
  decoder?: string;
  vae?: string;
  clip?: string;
  n: string;
  steps: string;
  guidance: string;
  seed: string;
  batchSize: string;
  out: string;
}

export function parseEvalDecoder(o: EvalDecoderCli): { n: number; steps: number; guidance: number; seed: number; batchSize: number } {
  return {
    n: integer('n', o.n, { min: 1 }),
    batchSize: integer('batch-size', o.batchSize, { min: 1 }),
    steps: integer('steps', o.steps, { min: 1 }),
    guidance: number('guidance', o.guidance, { min: 0 }),
    seed: seed('seed', o.seed),
  };
}

export interface EvalCli {
  split: string;
  n: string;
  arms: string;
  steps: string;
  guidance: string;
  scheduler: string;
  seed: string;
  batchSize: string;
  priorSteps: string;
  bootstrap: string;
  diversity: string;
  diversitySamples: string;
  /** Commander's --no-images: false skips the decoder (the embedding-level metrics alone). */
  images: boolean;
  shifted?: string;
  baseline?: string;
  /** A `train:prior` output directory: DIR/seed-N/{shifted,baseline} (several training seeds) or DIR/{shifted,baseline}. */
  priors?: string;
  /** The full run: guidance 1,2,3,5 and the priors of several training seeds (--priors, default runs/prior). */
  full?: boolean;
  decoder?: string;
  vae?: string;
  out: string;
}

/** Guidance values of `sd eval --full` (the sweep). */
export const FULL_GUIDANCE = [1, 2, 3, 5] as const;

/** The arms `sd eval` can decode, in table order. */
export const IMAGE_ARMS = ['shifted', 'baseline', 'text', 'ridge', 'oracle'] as const;
export type ImageArmName = (typeof IMAGE_ARMS)[number];

export function parseEval(o: EvalCli) {
  const arms = o.arms.split(',').map((a) => a.trim()).filter(Boolean);
  for (const a of arms) if (!(IMAGE_ARMS as readonly string[]).includes(a)) throw new Error(`--arms: unknown arm "${a}" (choose from ${IMAGE_ARMS.join(', ')})`);
  if (arms.length === 0) throw new Error('--arms: name at least one arm');
  // --full sweeps the guidance values (the plot of FID against CLIP similarity).
  const guidance = o.full ? [...FULL_GUIDANCE] : o.guidance.split(',').map((g) => number('guidance', g.trim(), { min: 0 }));
  return {
    split: choice('split', o.split, ['validation', 'test'] as const),
    n: integer('n', o.n, { min: 4 }),
    arms: arms as ImageArmName[],
    guidance,
    decode: { steps: integer('steps', o.steps, { min: 1 }), sampler: choice('scheduler', o.scheduler, DECODER_SAMPLERS), seed: seed('seed', o.seed), batchSize: integer('batch-size', o.batchSize, { min: 1 }) },
    priorSteps: integer('prior-steps', o.priorSteps, { min: 1 }),
    bootstrap: integer('bootstrap', o.bootstrap, { min: 10 }),
    diversity: { captions: integer('diversity', o.diversity, { min: 0 }), samples: integer('diversity-samples', o.diversitySamples, { min: 2 }) },
    images: o.images,
  };
}
