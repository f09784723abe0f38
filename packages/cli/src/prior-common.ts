// What train-prior and eval-prior share: the train/held-out split of the data and the results table.
import { fitRidgeMap, loadEmbeddedPriorData, loadEmbeddingPairs, scoreArm, subset, type ArmMetrics, type ComparedMetric, type EmbeddingPairs, type MetricComparison, type PriorMetrics } from '@sd/models';

/** Train/held-out pairs: the embedded default, or a folder with its last `holdout` rows (parsed --holdout) held out. */
export function loadPriorData(data: string | undefined, holdout: number | undefined, evalSplit: 'validation' | 'test' = 'validation'): { train: EmbeddingPairs; heldOut: EmbeddingPairs } {
  if (!data) return loadEmbeddedPriorData(evalSplit);
  const pairs = loadEmbeddingPairs(data);
  const n = holdout ?? Math.max(1, Math.round(pairs.count * 0.1));
  if (n >= pairs.count) throw new Error(`--holdout ${n} leaves no training pairs (the set has ${pairs.count})`);
  return { train: subset(pairs, 0, pairs.count - n), heldOut: subset(pairs, pairs.count - n, pairs.count) };
}

/**
 * The arms that need no prior, scored like one: the held-out text embedding used as the image
 * embedding as is, and a ridge map from text to image embedding fit on the training pairs.
 */
export function trivialArms(train: EmbeddingPairs, heldOut: EmbeddingPairs): Record<string, ArmMetrics> {
  return {
    'text embedding as is': scoreArm(heldOut.text, heldOut),
    'ridge map (fit on train)': scoreArm(fitRidgeMap(train)(heldOut.text), heldOut),
  };
}

export function formatMetricsTable(results: Record<string, PriorMetrics | ArmMetrics>): string {
  const rows = Object.entries(results);
  const header = '| arm | cos(gen, image) | cos(gen, text) | R@1 | R@5 | mean rank | FD to real images | precision | recall | n |';
  const opt = (m: PriorMetrics | ArmMetrics, key: 'frechet' | 'precision' | 'recall', f: (x: number) => string) => (key in m ? f((m as ArmMetrics)[key]) : '–');
  const lines = rows.map(
    ([name, m]) =>
      `| ${name} | ${m.cosineToImage.toFixed(4)} | ${m.cosineToText.toFixed(4)} | ${(100 * m.recallAt1).toFixed(1)}% | ${(100 * m.recallAt5).toFixed(1)}% | ${m.meanRank.toFixed(1)} | ` +
      `${opt(m, 'frechet', (x) => x.toFixed(4))} | ${opt(m, 'precision', (x) => `${(100 * x).toFixed(1)}%`)} | ${opt(m, 'recall', (x) => `${(100 * x).toFixed(1)}%`)} | ${m.count} |`,
  );
  return [header, '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |', ...lines].join('\n');
}

type Spread = Record<string, { mean: number; std: number }>;

/** Arms trained over several seeds as mean ± std, the seedless trivial arms as they are. */
export function formatSpreadTable(spread: Record<string, Spread>, trivial: Record<string, ArmMetrics>, seeds: number): string {
  const pm = (s: { mean: number; std: number }, f: (x: number) => string) => `${f(s.mean)} ± ${f(s.std)}`;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const header = `| arm (${seeds} seeds: mean ± std) | cos(gen, image) | R@1 | R@5 | mean rank | FD to real images | precision | recall |`;
  const rows = Object.entries(spread).map(([name, s]) =>
    `| ${name} | ${pm(s.cosineToImage, (x) => x.toFixed(4))} | ${pm(s.recallAt1, pct)} | ${pm(s.recallAt5, pct)} | ${pm(s.meanRank, (x) => x.toFixed(1))} | ${pm(s.frechet, (x) => x.toFixed(4))} | ${pm(s.precision, pct)} | ${pm(s.recall, pct)} |`);
  const fixed = Object.entries(trivial).map(([name, m]) =>
    `| ${name} (no seed) | ${m.cosineToImage.toFixed(4)} | ${pct(m.recallAt1)} | ${pct(m.recallAt5)} | ${m.meanRank.toFixed(1)} | ${m.frechet.toFixed(4)} | ${pct(m.precision)} | ${pct(m.recall)} |`);
  return [header, '| --- | --- | --- | --- | --- | --- | --- | --- |', ...rows, ...fixed].join('\n');
}

/** shifted − baseline with its paired bootstrap 95% interval and what it says, per metric. */
export function formatComparison(c: Record<ComparedMetric, MetricComparison>): string {
  const f: Record<ComparedMetric, (x: number) => string> = {
    cosineToImage: (x) => x.toFixed(4),
    recallAt1: (x) => `${(100 * x).toFixed(1)} pt`,
    recallAt5: (x) => `${(100 * x).toFixed(1)} pt`,
    meanRank: (x) => x.toFixed(2),
    frechet: (x) => x.toFixed(4),
  };
  const names: Record<ComparedMetric, string> = { cosineToImage: 'cos(gen, image)', recallAt1: 'R@1', recallAt5: 'R@5', meanRank: 'mean rank', frechet: 'FD to real images' };
  const say = { 'A better': 'shifted better', 'B better': 'baseline better', 'no difference': 'no difference (interval contains 0)' };
  const rows = (Object.keys(c) as ComparedMetric[]).map((k) => `| ${names[k]} | ${f[k](c[k].estimate)} | [${f[k](c[k].low)}, ${f[k](c[k].high)}] | ${say[c[k].verdict]} |`);
  return ['| shifted − baseline | estimate | paired bootstrap 95% interval | verdict |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
