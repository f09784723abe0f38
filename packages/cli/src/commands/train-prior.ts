// `sd train-prior` (`pnpm train:prior`): train the shifted prior — and, by default, the unshifted
// baseline with the same budget and seed — then evaluate both on held-out pairs.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initRuntime } from '@sd/kernels';
import { assertFreshRunDir, evaluatePrior, renderLossCurve, trainPrior, type ArmMetrics } from '@sd/models';
import { parseTrainPrior, type TrainPriorCli } from '../options.ts';
import { formatMetricsTable, loadPriorData, trivialArms } from '../prior-common.ts';
import { progressBar } from '../progress.ts';

export async function trainPriorCommand(o: TrainPriorCli): Promise<void> {
  const { model, settings: base, holdout, evalSteps, guidance } = parseTrainPrior(o);
  await initRuntime();
  const { train, heldOut } = loadPriorData(o.data, holdout);
  const variants = o.baseline ? ['baseline'] : o.compare ? ['shifted', 'baseline'] : ['shifted'];
  // Check every variant's directory before training any, not after the first one's minutes of training.
  if (!o.resume) for (const variant of variants) assertFreshRunDir(join(o.out, variant));
  console.log(`data: ${train.count} training pairs, ${heldOut.count} held out, dimension ${train.dim} (${train.source})`);
  mkdirSync(o.out, { recursive: true });
  const results: Record<string, ArmMetrics> = {};
  const curves: { label: string; points: { x: number; y: number }[] }[] = [];
  for (const variant of variants) {
    const settings = { ...base, baseline: variant === 'baseline' };
    const outDir = join(o.out, variant);
    const bar = progressBar(variant.padEnd(8), settings.steps);
    const trained = await trainPrior(train, model, settings, {
      outDir,
      resume: o.resume,
      record: o.record,
      onStep: (r) => bar.update(r.step, r),
    });
    bar.stop();
    const metrics = await evaluatePrior(trained, heldOut, { steps: evalSteps, guidance, seed: settings.seed });
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
  const baselines = trivialArms(train, heldOut);
  writeFileSync(join(o.out, 'eval.json'), JSON.stringify({ data: train.source, heldOut: heldOut.count, settings: base, results, trivialArms: baselines }, null, 2));
  console.log(formatMetricsTable({ ...results, ...baselines }));
  console.log(`wrote ${o.out}/{${variants.join(',')}}/ (config.json, checkpoint.safetensors, metrics.jsonl, loss.png, eval.json) and ${o.out}/eval.json`);
}
