// `sd train-prior` (`pnpm train:prior`): train the shifted prior — and, by default, the unshifted
// baseline with the same budget and seed — then evaluate both on held-out pairs.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initRuntime } from '@sd/kernels';
import {
  PRIOR_CONFIGS, SEED_OPTIMIZER, assertFreshRunDir, evaluatePrior, loadEmbeddingPairs, renderLossCurve, subset, trainPrior,
  type EmbeddingPairs, type PriorMetrics, type TrainSettings,
} from '@sd/models';
import { loadEmbeddedPriorData } from '@sd/models';
import { progressBar } from '../progress.ts';

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
  ema: string;
  out: string;
  evalSteps: string;
  guidance: string;
}

function int(name: string, value: string, min = 0): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got "${value}"`);
  return n;
}

function num(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got "${value}"`);
  return n;
}

/** Train/held-out pairs: the embedded default, or a folder with its last `holdout` rows held out. */
export function loadPriorData(data: string | undefined, holdout: string | undefined): { train: EmbeddingPairs; heldOut: EmbeddingPairs } {
  if (!data) return loadEmbeddedPriorData();
  const pairs = loadEmbeddingPairs(data);
  const n = holdout === undefined ? Math.max(1, Math.round(pairs.count * 0.1)) : int('holdout', holdout, 1);
  if (n >= pairs.count) throw new Error(`--holdout ${n} leaves no training pairs (the set has ${pairs.count})`);
  return { train: subset(pairs, 0, pairs.count - n), heldOut: subset(pairs, pairs.count - n, pairs.count) };
}

export async function trainPriorCommand(o: TrainPriorCli): Promise<void> {
  await initRuntime();
  const model = PRIOR_CONFIGS[o.size as keyof typeof PRIOR_CONFIGS];
  if (!model) throw new Error(`--size must be one of ${Object.keys(PRIOR_CONFIGS).join(', ')}, got "${o.size}"`);
  const { train, heldOut } = loadPriorData(o.data, o.holdout);
  const base: TrainSettings = {
    steps: int('steps', o.steps, 1),
    batchSize: int('batch-size', o.batchSize, 1),
    lr: num('lr', o.lr),
    betas: SEED_OPTIMIZER.betas,
    weightDecay: SEED_OPTIMIZER.weightDecay,
    eps: SEED_OPTIMIZER.eps,
    maxGradNorm: SEED_OPTIMIZER.maxGradNorm,
    warmupSteps: Math.min(100, Math.floor(int('steps', o.steps, 1) / 10)),
    clusters: int('clusters', o.clusters, 1),
    stdScale: num('std-scale', o.stdScale),
    dropText: num('drop-text', o.dropText),
    seed: int('seed', o.seed),
    baseline: false,
    emaDecay: num('ema', o.ema),
    checkpointEvery: 250,
    logEvery: 25,
  };
  const variants = o.baseline ? ['baseline'] : o.compare ? ['shifted', 'baseline'] : ['shifted'];
  // Check every variant's directory before training any, not after the first one's minutes of training.
  if (!o.resume) for (const variant of variants) assertFreshRunDir(join(o.out, variant));
  console.log(`data: ${train.count} training pairs, ${heldOut.count} held out, dimension ${train.dim} (${train.source})`);
  mkdirSync(o.out, { recursive: true });
  const results: Record<string, PriorMetrics> = {};
  const curves: { label: string; points: { x: number; y: number }[] }[] = [];
  for (const variant of variants) {
    const settings = { ...base, baseline: variant === 'baseline' };
    const outDir = join(o.out, variant);
    const bar = progressBar(variant.padEnd(8), settings.steps);
    const trained = await trainPrior(train, model, settings, {
      outDir,
      resume: o.resume,
      onStep: (r) => bar.update(r.step, r),
    });
    bar.stop();
    const metrics = await evaluatePrior(trained, heldOut, { steps: int('eval-steps', o.evalSteps, 1), guidance: num('guidance', o.guidance), seed: settings.seed });
    results[variant] = metrics;
    writeFileSync(join(outDir, 'eval.json'), JSON.stringify(metrics, null, 2));
    const points = readFileSync(join(outDir, 'metrics.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)).map((m) => ({ x: m.step, y: m.loss }));
    curves.push({ label: variant, points });
    writeFileSync(join(outDir, 'loss.png'), renderLossCurve([{ label: variant, color: [200, 40, 40], points }]));
  }
  if (curves.length > 1) {
    const colors: [number, number, number][] = [[200, 40, 40], [40, 80, 200]];
    writeFileSync(join(o.out, 'loss.png'), renderLossCurve(curves.map((c, i) => ({ ...c, color: colors[i % 2] }))));
  }
  writeFileSync(join(o.out, 'eval.json'), JSON.stringify({ data: train.source, heldOut: heldOut.count, settings: base, results }, null, 2));
  console.log(formatMetricsTable(results));
  console.log(`wrote ${o.out}/{${variants.join(',')}}/ (config.json, checkpoint.safetensors, metrics.jsonl, loss.png, eval.json) and ${o.out}/eval.json`);
}

export function formatMetricsTable(results: Record<string, PriorMetrics>): string {
  const rows = Object.entries(results);
  const header = '| prior | cos(gen, image) | cos(gen, text) | R@1 | R@5 | mean rank | n |';
  const lines = rows.map(([name, m]) =>
    `| ${name} | ${m.cosineToImage.toFixed(4)} | ${m.cosineToText.toFixed(4)} | ${(100 * m.recallAt1).toFixed(1)}% | ${(100 * m.recallAt5).toFixed(1)}% | ${m.meanRank.toFixed(1)} | ${m.count} |`,
  );
  return [header, '| --- | --- | --- | --- | --- | --- | --- |', ...lines].join('\n');
}
