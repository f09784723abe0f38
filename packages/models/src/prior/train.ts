// Training the shifted-diffusion prior: data on the GPU, AdamW with clipping, optional EMA,
// periodic atomic checkpoints with everything needed to resume to the same weights.
import { existsSync, join, mkdirSync, writeFileSync } from '#host';
import {
  checkpointGroups, gather, loadCheckpoint, manualSeed, optim, randn, saveCheckpoint, tensor, type LoadedCheckpoint, type Tensor, type nn,
} from '@sd/autograd';
import { readSafetensors, type FileLoader } from '@sd/io';
import { fingerprintPairs, type EmbeddingPairs } from './data.ts';
import { ShiftedDiffusion, type PriorLossWeight } from './diffusion.ts';
import { ClipPrior, type PriorConfig } from './network.ts';
import { STREAM, priorGenerator, purposeSeedOf, stepRng } from './rng.ts';
import { stepOffset } from '../training/rng.ts';
import { RecordedSteps, StepInput } from '../training/recorded-step.ts';
import { runCheckpointedSteps, type OptimizerSettings, type StepReport, type TrainRunOptions } from '../training/loop.ts';
import { truncateMetrics } from '../training/metrics.ts';
import { emaGroup, restoreEma } from '../training/ema.ts';
import { assertFreshRunDir } from '../training/run-dir.ts';
import { assertResumable, configDifferences } from '../training/guards.ts';
import { assignClusters, computeShiftStats, identityStats, type ShiftStats } from './shift.ts';
import { disposeModule } from '../clip/weights.ts';

export interface TrainSettings extends OptimizerSettings {
  /** K clusters for the shift statistics. */
  clusters: number;
  stdScale: number;
  /** Probability of dropping the text condition (classifier-free guidance). */
  dropText: number;
  seed: number;
  /** Train the unshifted baseline (μ = 0, s = 1, no cluster token). */
  baseline: boolean;
  /** EMA decay cap; 0 disables EMA. */
  emaDecay: number;
  /** The loss's weight per timestep; absent: the seed's (1−ᾱ_t) (so runs from before the option resume). */
  lossWeight?: PriorLossWeight;
  checkpointEvery: number;
  logEvery: number;
}

/** The seed's optimiser settings. */
export const SEED_OPTIMIZER = { lr: 1.2e-4, betas: [0.9, 0.96] as [number, number], weightDecay: 0.06, eps: 1e-6, maxGradNorm: 1.0 };

export interface RunConfig {
  format: 'sd-prior/1';
  model: PriorConfig;
  train: TrainSettings;
  /** sha256: fingerprintPairs of the training rows (a resume on changed data is refused). */
  data: { source: string; count: number; dim: number; sha256: string };
}

export type { StepReport };

/** Everything a trained prior needs at sampling time. */
export interface PriorBundle {
  model: ClipPrior;
  diffusion: ShiftedDiffusion;
  config: RunConfig;
}

const CHECKPOINT = 'checkpoint.safetensors';

/** Batch rows, timesteps and text-drop decisions of one step (pure function of seed and step). */
export function drawStep(s: TrainSettings, step: number, count: number, timesteps: number) {
  const rb = stepRng(s.seed, step, STREAM.batch);
  const rt = stepRng(s.seed, step, STREAM.timesteps);
  const rd = stepRng(s.seed, step, STREAM.dropText);
  const rows = Int32Array.from({ length: s.batchSize }, () => Math.floor(rb() * count));
  const t = Int32Array.from({ length: s.batchSize }, () => Math.floor(rt() * timesteps));
  const keep = Float32Array.from({ length: s.batchSize }, () => (rd() < s.dropText ? 0 : 1));
  return { rows, t, keep };
}

export function shiftStatsFor(pairs: EmbeddingPairs, s: TrainSettings): ShiftStats {
  return s.baseline ? identityStats(pairs.dim) : computeShiftStats(pairs.image, pairs.dim, s.clusters, { seed: purposeSeedOf(s.seed, 'kmeans') });
}

export function buildPrior(config: RunConfig, stats: ShiftStats): PriorBundle {
  // Weights from the run's own init stream (each part of the network derives its own from it).
  manualSeed(purposeSeedOf(config.train.seed, 'init'));
  const model = new ClipPrior({ ...config.model, clusters: stats.k, useClusterToken: !config.train.baseline });
  const diffusion = new ShiftedDiffusion(stats, config.train.baseline ? 1 : config.train.stdScale);
  return { model, diffusion, config };
}

function statsTensors(stats: ShiftStats): Map<string, Tensor> {
  return new Map([
    ['mean', tensor(stats.mean, [stats.k, stats.dim]).keep()],
    ['std', tensor(stats.std, [stats.k, stats.dim]).keep()],
    ['counts', tensor(Int32Array.from(stats.counts), [stats.k], { dtype: 'i32' }).keep()],
  ]);
}

export function statsFromCheckpoint(groups: Record<string, Map<string, nn.HostTensor>>, path: string): ShiftStats {
  const shift = groups.shift;
  const mean = shift?.get('mean');
  const std = shift?.get('std');
  const counts = shift?.get('counts');
  if (!mean || !std || !counts) throw new Error(`${path}: no shift statistics (shift.mean, shift.std, shift.counts)`);
  return { k: mean.shape[0], dim: mean.shape[1], mean: Float32Array.from(mean.data), std: Float32Array.from(std.data), counts: Array.from(counts.data) };
}

/** Loads a trained prior from a run directory or checkpoint file. */
export function loadPrior(path: string): PriorBundle {
  const file = path.endsWith('.safetensors') ? path : join(path, CHECKPOINT);
  if (!existsSync(file)) throw new Error(`${file}: no prior checkpoint here`);
  return priorFromCheckpoint(loadCheckpoint(file), file);
}

/** loadPrior through a FileLoader (a page): `path` (a checkpoint file or a run directory) is relative to the loader's root. */
export async function loadPriorFrom(loader: FileLoader, path: string): Promise<PriorBundle> {
  const file = path.endsWith('.safetensors') ? path : `${path.replace(/\/+$/, '')}/${CHECKPOINT}`;
  const read = readSafetensors(await loader.bytes(file), { label: file });
  return priorFromCheckpoint({ groups: checkpointGroups(read, file), metadata: read.metadata }, file);
}

function priorFromCheckpoint(ckpt: LoadedCheckpoint, file: string): PriorBundle {
  const config = parseConfig(ckpt.metadata.config, file);
  const bundle = buildPrior(config, statsFromCheckpoint(ckpt.groups, file));
  const weights = ckpt.groups.ema?.size ? ckpt.groups.ema : ckpt.groups.model;
  if (!weights) throw new Error(`${file}: no model weights`);
  bundle.model.loadStateDict(weights, { source: file });
  bundle.model.eval();
  return bundle;
}

function parseConfig(text: string | undefined, file: string): RunConfig {
  if (!text) throw new Error(`${file}: metadata has no "config"`);
  const config = JSON.parse(text) as RunConfig;
  if (config.format !== 'sd-prior/1') throw new Error(`${file}: unknown checkpoint format ${JSON.stringify(config.format)}`);
  return config;
}

/** The difference line for changed training rows: what the checkpoint saw and what is given now. */
function dataChanged(saved: RunConfig, requested: RunConfig): string {
  const was = saved.data.sha256 ? `sha256 ${saved.data.sha256}` : 'no fingerprint (written before runs recorded one; start a fresh run)';
  return `data: the training rows of ${requested.data.source} (${requested.data.count} × ${requested.data.dim}) have sha256 ${requested.data.sha256}; the checkpoint was trained on rows with ${was}`;
}

/**
 * A run's settings for another number of steps and batch size, the warm-up cut to a tenth of the
 * steps where it is longer (as `pnpm train:prior` sizes it): how the demo's panel retrains a prior.
 */
export function withSteps(base: TrainSettings, steps: number, batchSize: number): TrainSettings {
  return { ...base, steps, batchSize, warmupSteps: Math.min(base.warmupSteps, Math.floor(steps / 10)) };
}

/** The RunConfig of a training run: what is built (the data's dimension, K clusters, the cluster token), the settings and the data's fingerprint. */
export function priorRunConfig(pairs: EmbeddingPairs, model: PriorConfig, settings: TrainSettings): RunConfig {
  const built = { ...model, embedDim: pairs.dim, clusters: settings.baseline ? 1 : settings.clusters, useClusterToken: !settings.baseline };
  return { format: 'sd-prior/1', model: built, train: settings, data: { source: pairs.source, count: pairs.count, dim: pairs.dim, sha256: fingerprintPairs(pairs) } };
}

/**
 * A prior's training steps, apart from any run directory: the network and its shift statistics, AdamW
 * with warm-up and clipping, the optional EMA, and the training set on the GPU. `trainPrior` adds the
 * checkpoints and metrics around it; a page (the demo's training panel) runs it as is. Step `n`
 * draws its batch, timesteps, dropped texts and noise from (seed, n) alone, so any two runners of
 * the same settings take the same steps.
 */
export class PriorTraining {
  readonly bundle: PriorBundle;
  readonly opt: optim.AdamW;
  readonly ema: optim.EMA | null;
  private readonly steps: RecordedSteps;
  private readonly owned: { dispose(): void }[];

  constructor(pairs: EmbeddingPairs, config: RunConfig, stats: ShiftStats, options: { record?: boolean } = {}) {
    const settings = config.train;
    this.bundle = buildPrior(config, stats);
    const { model, diffusion } = this.bundle;
    const params = model.parameters();
    this.opt = new optim.AdamW(params, { lr: settings.lr, betas: settings.betas, weightDecay: settings.weightDecay, eps: settings.eps });
    this.opt.schedule = optim.linearWarmup(settings.warmupSteps);
    this.ema = settings.emaDecay > 0 ? new optim.EMA(params, { decay: settings.emaDecay }) : null;

    // The whole training set lives on the GPU; batches are gathered by row index.
    const images = tensor(pairs.image, [pairs.count, pairs.dim]).keep();
    const texts = tensor(pairs.text, [pairs.count, pairs.dim]).keep();
    const clusters = settings.baseline ? new Int32Array(pairs.count) : assignClusters(stats, pairs.text);
    const T = diffusion.timesteps;

    // One step: its inputs are drawn for the host step counter and uploaded (in a perRun callback),
    // so a recorded step replays with each step's own rows, timesteps,
    // dropped texts and noise (see training/recorded-step.ts).
    const B = settings.batchSize;
    const input = { ids: new StepInput([B], 'i32'), t: new StepInput([B], 'i32'), clusters: new StepInput([B], 'i32'), keep: new StepInput([B, 1], 'f32') };
    this.owned = [images, texts, ...Object.values(input)];
    const noise = priorGenerator(settings.seed, 'noise');
    this.steps = new RecordedSteps({
      inputs: (current) => {
        const { rows, t, keep } = drawStep(settings, current, pairs.count, T);
        input.ids.write(rows);
        input.t.write(t);
        input.clusters.write(Int32Array.from(rows, (r) => clusters[r]));
        input.keep.write(keep);
        // Each step reads its own range of the noise stream, so a resumed run draws the same ε.
        noise.offset = stepOffset(current, B * pairs.dim);
      },
      compute: () => {
        const [ids, t] = [input.ids.tensor, input.t.tensor];
        const x0 = gather(images, ids, 0);
        const text = gather(texts, ids, 0);
        const { mu, s } = diffusion.shiftOf(input.clusters.tensor);
        const xt = diffusion.qSample(x0, t, randn(x0.shape, { generator: noise }), mu, s);
        const pred = model.forward({ xt, timesteps: t, clusters: input.clusters.tensor, textEmbedding: text, keepText: input.keep.tensor });
        const l = diffusion.loss(x0, pred, t, settings.lossWeight);
        l.backward();
        this.opt.update({ maxGradNorm: settings.maxGradNorm });
        this.opt.zeroGrad();
        this.ema?.update();
        return l.detach();
      },
      enabled: options.record ?? true,
    });
  }

  /** Runs step `step` (0-based); returns its detached loss, which the caller may read and disposes. */
  step(step: number): Tensor {
    return this.steps.run(step);
  }

  /**
   * Ends training: with EMA, puts the averaged weights into the network, then frees everything but
   * the prior (`bundle`), which stays, in eval mode, for sampling; free it with disposePrior.
   */
  finish(): PriorBundle {
    // The recording goes first: it holds the parameters' buffers, which the EMA weights replace.
    this.steps.dispose();
    this.ema?.copyTo();
    this.freeTraining();
    this.bundle.model.eval();
    return this.bundle;
  }

  /** Abandons training: frees everything, the prior too. */
  dispose(): void {
    this.freeTraining();
    disposePrior(this.bundle);
  }

  /** The recording, the training set, the optimizer's state and the EMA averages. */
  private freeTraining(): void {
    this.steps.dispose();
    for (const x of this.owned.splice(0)) x.dispose();
    this.opt.dispose();
    this.ema?.dispose();
  }
}

/** Frees a prior's network and its shift statistics on the device. */
export function disposePrior(prior: PriorBundle): void {
  disposeModule(prior.model);
  prior.diffusion.dispose();
}

export type TrainOptions = TrainRunOptions<ClipPrior>;

/**
 * Trains (or resumes) a prior. Writes config.json, metrics.jsonl and checkpoint.safetensors
 * (model, optimizer, EMA, shift statistics; step and settings in the metadata) to `outDir`, which
 * must be empty or missing unless resuming.
 */
export async function trainPrior(pairs: EmbeddingPairs, model: PriorConfig, settings: TrainSettings, options: TrainOptions): Promise<PriorBundle & { step: number; lastLoss: number }> {
  if (!options.resume) assertFreshRunDir(options.outDir);
  mkdirSync(options.outDir, { recursive: true });
  const config = priorRunConfig(pairs, model, settings);
  const ckptPath = join(options.outDir, CHECKPOINT);
  const metricsPath = join(options.outDir, 'metrics.jsonl');

  let stats: ShiftStats;
  let resumeFrom: ReturnType<typeof loadCheckpoint> | null = null;
  if (options.resume && existsSync(ckptPath)) {
    resumeFrom = loadCheckpoint(ckptPath);
    const saved = parseConfig(resumeFrom.metadata.config, ckptPath);
    const diffs = configDifferences({ ...saved, train: { ...saved.train, steps: settings.steps } }, config).map((d) => (d.startsWith('data.sha256:') ? dataChanged(saved, config) : d));
    assertResumable(ckptPath, diffs);
    stats = statsFromCheckpoint(resumeFrom.groups, ckptPath);
  } else {
    stats = shiftStatsFor(pairs, settings);
    writeFileSync(metricsPath, '');
  }
  writeFileSync(join(options.outDir, 'config.json'), JSON.stringify(config, null, 2));

  const training = new PriorTraining(pairs, config, stats, { record: options.record });
  const { bundle, opt, ema } = training;
  const params = bundle.model.parameters();
  let step = 0;
  if (resumeFrom) {
    bundle.model.loadStateDict(resumeFrom.groups.model, { source: ckptPath });
    opt.loadStateDict(resumeFrom.groups.optim);
    if (ema) restoreEma(bundle.model, ema, resumeFrom, ckptPath);
    step = Number(resumeFrom.metadata.step);
    truncateMetrics(metricsPath, step);
  }

  const save = async (completed: number) => {
    const groups: Record<string, Map<string, Tensor>> = {
      model: bundle.model.stateDict(),
      optim: opt.stateDict(),
      shift: statsTensors(stats),
    };
    if (ema) groups.ema = emaGroup(bundle.model, ema);
    await saveCheckpoint(ckptPath, groups, { config: JSON.stringify(config), step: String(completed) });
    for (const t of groups.shift.values()) t.dispose();
  };

  const done = await runCheckpointedSteps({
    from: step,
    steps: settings.steps,
    stopAfter: options.stopAfter,
    logEvery: settings.logEvery,
    checkpointEvery: settings.checkpointEvery,
    metricsPath,
    checkpointPath: ckptPath,
    params,
    save,
    onStep: options.onStep,
    afterUpdate: (completed) => options.afterUpdate?.(completed, bundle.model),
    runStep: (step) => ({ lr: opt.currentLr(), loss: training.step(step) }),
  }).catch((error: unknown) => {
    training.dispose();
    throw error;
  });
  return { ...training.finish(), ...done };
}

