// What train-prior and eval-prior share: the train/held-out split of the data and the results table.
import { loadEmbeddedPriorData, loadEmbeddingPairs, subset, type EmbeddingPairs, type PriorMetrics } from '@sd/models';

/** Train/held-out pairs: the embedded default, or a folder with its last `holdout` rows (parsed --holdout) held out. */
export function loadPriorData(data: string | undefined, holdout: number | undefined): { train: EmbeddingPairs; heldOut: EmbeddingPairs } {
  if (!data) return loadEmbeddedPriorData();
  const pairs = loadEmbeddingPairs(data);
  const n = holdout ?? Math.max(1, Math.round(pairs.count * 0.1));
  if (n >= pairs.count) throw new Error(`--holdout ${n} leaves no training pairs (the set has ${pairs.count})`);
  return { train: subset(pairs, 0, pairs.count - n), heldOut: subset(pairs, pairs.count - n, pairs.count) };
}

export function formatMetricsTable(results: Record<string, PriorMetrics>): string {
  const rows = Object.entries(results);
  const header = '| prior | cos(gen, image) | cos(gen, text) | R@1 | R@5 | mean rank | n |';
  const lines = rows.map(([name, m]) =>
    `| ${name} | ${m.cosineToImage.toFixed(4)} | ${m.cosineToText.toFixed(4)} | ${(100 * m.recallAt1).toFixed(1)}% | ${(100 * m.recallAt5).toFixed(1)}% | ${m.meanRank.toFixed(1)} | ${m.count} |`,
  );
  return [header, '| --- | --- | --- | --- | --- | --- | --- |', ...lines].join('\n');
}
