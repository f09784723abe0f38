// What train-prior and eval-prior share: the train/held-out split of the data and the results table.
import { fitRidgeMap, loadEmbeddedPriorData, loadEmbeddingPairs, scoreArm, subset, type ArmMetrics, type EmbeddingPairs, type PriorMetrics } from '@sd/models';

/** Train/held-out pairs: the embedded default, or a folder with its last `holdout` rows (parsed --holdout) held out. */
export function loadPriorData(data: string | undefined, holdout: number | undefined): { train: EmbeddingPairs; heldOut: EmbeddingPairs } {
  if (!data) return loadEmbeddedPriorData();
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
