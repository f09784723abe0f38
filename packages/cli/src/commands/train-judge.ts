// `sd train-judge` (`pnpm train:judge`): train the judge CNN on fresh procedural renders with their
// exact labels, report its accuracy per attribute on clean test renders (training and held-out
// shape–colour pairs apart), and with --export write its weights and accuracies as the committed
// judge (packages/models/assets/judge.safetensors).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '@sd/io';
import { initRuntime } from '@sd/kernels';
import { assertFreshRunDir, DEFAULT_JUDGE_CONFIG, evaluateJudge, HEAD_NAMES, judgeAssetPath, trainJudge, writeLossPlot } from '@sd/models';
import { parseTrainJudge, type TrainJudgeCli } from '../options.ts';
import { progressBar } from '../progress.ts';

export async function trainJudgeCommand(o: TrainJudgeCli): Promise<void> {
  const { settings, evalCount } = parseTrainJudge(o);
  if (!o.resume) assertFreshRunDir(o.out);
  await initRuntime();
  const bar = progressBar('judge', settings.steps);
  const { judge, step } = await trainJudge(DEFAULT_JUDGE_CONFIG, settings, { outDir: o.out, resume: o.resume, record: o.record, onStep: (r) => bar.update(r.step, r) });
  bar.stop();
  writeLossPlot(o.out, 'judge');
  if (step < settings.steps) return;
  const acc = await evaluateJudge(judge, evalCount);
  writeFileSync(join(o.out, 'eval.json'), JSON.stringify(acc, null, 2));
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  console.log(`| test renders (${acc.count}) | ${HEAD_NAMES.join(' | ')} | all heads (single objects) |`);
  console.log(`| --- | ${HEAD_NAMES.map(() => '---').join(' | ')} | --- |`);
  console.log(`| all | ${HEAD_NAMES.map((h) => pct(acc.perHead[h])).join(' | ')} | ${pct(acc.allCorrect)} |`);
  for (const [part, r] of Object.entries(acc.byPairs)) console.log(`| ${part} | ${HEAD_NAMES.map((h) => pct(r[h])).join(' | ')} | |`);
  if (o.export) {
    const path = typeof o.export === 'string' ? o.export : judgeAssetPath();
    const tensors = await Promise.all([...judge.stateDict()].map(async ([name, t]) => [name, { dtype: 'F32' as const, shape: [...t.shape], data: Float32Array.from(await t.read()) }] as const));
    const command = `pnpm train:judge --steps ${settings.steps} --batch-size ${settings.batchSize} --lr ${o.lr} --seed ${settings.seed} --export`;
    writeSafetensors(path, new Map(tensors), { format: 'sd-judge/1', config: JSON.stringify(DEFAULT_JUDGE_CONFIG), command, accuracy: JSON.stringify(acc) });
    console.log(`exported the judge to ${path}`);
  }
}
