// `sd eval-clip [file]`: zero-shot accuracy and retrieval of an exported CLIP (default: the default
// CLIP); --update records the result in the file's metadata.
import { initRuntime } from '@sd/kernels';
import { readSafetensors } from '@sd/io';
import { parseEvalClip } from '../options.ts';
import { DEFAULT_DATA_SEED, defaultClipPath, evaluateClip, exportClip, loadExportedClip, type ClipEvaluation } from '@sd/models';

export async function evalClipCommand(file: string | undefined, o: { evalCount: string; n: string; seed: string; update?: boolean }): Promise<void> {
  const { evalCount, n, seed } = parseEvalClip(o);
  await initRuntime();
  const path = file ?? defaultClipPath();
  const model = loadExportedClip(path);
  const evaluation = await evaluateClip(model, { dataSeed: DEFAULT_DATA_SEED, zeroShotCount: evalCount, retrievalCount: n, evalSeed: seed });
  console.log(formatClipEvaluation(evaluation));
  if (o.update) {
    const { format: _format, config: _config, ...kept } = readSafetensors(path).metadata;
    await exportClip(model, path, { ...kept, eval: JSON.stringify(evaluation) });
    console.log(`recorded the evaluation in ${path}`);
  }
}

/** Markdown tables of a CLIP evaluation: zero-shot accuracy under both rules, then retrieval. */
export function formatClipEvaluation(e: ClipEvaluation): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const rows = [
    ['held-out (unseen pairs)', 'marginal', e.zeroShot],
    ['train distribution', 'marginal', e.zeroShotTrainDistribution],
    ['held-out (unseen pairs)', 'mean', e.zeroShotMeanRule.heldout],
    ['train distribution', 'mean', e.zeroShotMeanRule.train],
  ] as const;
  return [
    '| images | rule | colour | shape | position | size |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(([images, rule, z]) => `| ${images} | ${rule} | ${pct(z.colour)} | ${pct(z.shape)} | ${pct(z.position)} | ${pct(z.size)} |`),
    `text→image retrieval over ${e.retrieval.count} held-out pairs: R@1 ${pct(e.retrieval.recallAt1)}, R@5 ${pct(e.retrieval.recallAt5)}`,
  ].join('\n');
}
