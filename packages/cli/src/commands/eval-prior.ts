// `sd eval-prior`: evaluate trained priors (shifted and baseline side by side) on held-out pairs.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initRuntime } from '@sd/kernels';
import { evaluatePrior, loadPrior, type ArmMetrics } from '@sd/models';
import { parseEvalPrior, type EvalPriorCli } from '../options.ts';
import { formatMetricsTable, loadPriorData, trivialArms } from '../prior-common.ts';

export async function evalPriorCommand(o: EvalPriorCli): Promise<void> {
  const { holdout, sampling, evalSplit } = parseEvalPrior(o);
  await initRuntime();
  const { train, heldOut } = loadPriorData(o.data, holdout, evalSplit);
  const variants = ['shifted', 'baseline'].filter((v) => existsSync(join(o.run, v, 'checkpoint.safetensors')));
  if (variants.length === 0) throw new Error(`${o.run}: no shifted/ or baseline/ run with a checkpoint.safetensors`);
  const results: Record<string, ArmMetrics> = {};
  for (const variant of variants) {
    const bundle = loadPrior(join(o.run, variant));
    if (bundle.diffusion.stats.dim !== heldOut.dim) throw new Error(`${join(o.run, variant)}: prior of dimension ${bundle.diffusion.stats.dim} cannot be evaluated on ${heldOut.dim}-d pairs from ${heldOut.source}`);
    results[variant] = await evaluatePrior(bundle, heldOut, sampling);
  }
  const baselines = trivialArms(train, heldOut);
  writeFileSync(join(o.run, 'eval.json'), JSON.stringify({ data: heldOut.source, split: o.data ? `last ${heldOut.count} rows` : evalSplit, heldOut: heldOut.count, sampling, results, trivialArms: baselines }, null, 2));
  console.log(formatMetricsTable({ ...results, ...baselines }));
}
