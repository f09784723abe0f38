// `sd train-prior` (`pnpm train:prior`): train the shifted prior — and, by default, the unshifted
// baseline with the same budget and seed — then evaluate both on held-out pairs (the validation
// split of the embedded default unless --eval-split test). With --seeds, each prior once per seed,
// then mean ± std over seeds and paired bootstrap intervals of shifted − baseline.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initRuntime } from '@sd/kernels';
import {
  assertFreshRunDir, captionMentions, compareSeededArms, embeddedDataDir, generateEmbeddings, readCaptions, renderLossCurve, rowsAt, scoreArm, seedSpread, trainPrior,
  type ArmMetrics, type EmbeddingPairs,
} from '@sd/models';
import { parseTrainPrior, type TrainPriorCli } from '../options.ts';
import { formatComparison, formatMetricsTable, formatSpreadTable, loadPriorData, trivialArms } from '../prior-common.ts';
import { progressBar } from '../progress.ts';

const COLORS: [number, number, number][] = [[200, 40, 40], [40, 80, 200]];

export async function trainPriorCommand(o: TrainPriorCli): Promise<void> {
  const { model, settings: base, seeds, evalSplit, bootstrap, holdout, evalSteps, guidance } = parseTrainPrior(o);
  await initRuntime();
  const { train, heldOut } = loadPriorData(o.data, holdout, evalSplit);
  const variants = o.baseline ? ['baseline'] : o.compare ? ['shifted', 'baseline'] : ['shifted'];
  const runDir = (seed: number, variant: string) => (seeds.length > 1 ? join(o.out, `seed-${seed}`, variant) : join(o.out, variant));
  // Check every directory before training any, not after the first one's minutes of training.
  if (!o.resume) for (const seed of seeds) for (const variant of variants) assertFreshRunDir(runDir(seed, variant));
  const split = o.data ? `the last ${heldOut.count} rows` : `the ${evalSplit} split`;
  console.log(`data: ${train.count} training pairs, ${heldOut.count} held out (${split}), dimension ${train.dim} (${train.source})`);
  mkdirSync(o.out, { recursive: true });
  const perSeed: Record<string, ArmMetrics[]> = {};
  const generated: Record<string, Float32Array[]> = {};
  for (const seed of seeds) {
    const curves: { label: string; points: { x: number; y: number }[] }[] = [];
    for (const variant of variants) {
      const settings = { ...base, seed, baseline: variant === 'baseline' };
      const outDir = runDir(seed, variant);
      const bar = progressBar(`${variant}${seeds.length > 1 ? ` s${seed}` : ''}`.padEnd(8), settings.steps);
      const trained = await trainPrior(train, model, settings, { outDir, resume: o.resume, record: o.record, onStep: (r) => bar.update(r.step, r) });
      bar.stop();
      const embeddings = await generateEmbeddings(trained, heldOut.text, { steps: evalSteps, guidance, seed });
      const metrics = scoreArm(embeddings, heldOut);
      (perSeed[variant] ??= []).push(metrics);
      (generated[variant] ??= []).push(embeddings);
      writeFileSync(join(outDir, 'eval.json'), JSON.stringify({ split: evalSplit, ...metrics }, null, 2));
      const points = readFileSync(join(outDir, 'metrics.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)).map((m) => ({ x: m.step, y: m.loss }));
      curves.push({ label: variant, points });
      writeFileSync(join(outDir, 'loss.png'), renderLossCurve([{ label: variant, color: COLORS[0], points }]));
    }
    if (curves.length > 1) writeFileSync(join(runDir(seed, '.'), 'loss.png'), renderLossCurve(curves.map((c, i) => ({ ...c, color: COLORS[i % 2] }))));
  }
  const baselines = trivialArms(train, heldOut);
  const evaluation = { data: train.source, split: o.data ? `last ${heldOut.count} rows` : evalSplit, heldOut: heldOut.count, settings: base, seeds };
  if (seeds.length === 1) {
    const results = Object.fromEntries(variants.map((v) => [v, perSeed[v][0]]));
    writeFileSync(join(o.out, 'eval.json'), JSON.stringify({ ...evaluation, results, trivialArms: baselines }, null, 2));
    console.log(formatMetricsTable({ ...results, ...baselines }));
  } else {
    const spread = Object.fromEntries(variants.map((v) => [v, seedSpread(perSeed[v])]));
    const comparison = variants.length === 2 ? compareSeededArms(generated.shifted, generated.baseline, heldOut, { resamples: bootstrap }) : null;
    // The research question's two kinds of caption: ones that leave size, position and background
    // free (a wide conditional distribution, where sampling should matter) and ones that pin all three.
    const captions = o.data ? readCaptions(o.data)?.slice(-heldOut.count) : readCaptions(join(embeddedDataDir(), evalSplit));
    const bySpecificity: Record<string, { count: number; comparison: ReturnType<typeof compareSeededArms> }> = {};
    if (comparison && captions && captions.length === heldOut.count) {
      const kinds = { 'under-specified (colour and shape only)': (m: ReturnType<typeof captionMentions>) => !m.size && !m.position && !m.background, 'pinned down (size, position and background too)': (m: ReturnType<typeof captionMentions>) => m.size && m.position && m.background };
      for (const [kind, test] of Object.entries(kinds)) {
        const rows = captions.flatMap((c, i) => (test(captionMentions(c)) ? [i] : []));
        if (rows.length < 10) continue;
        const pick = (x: Float32Array) => rowsAt(x, rows, heldOut.dim);
        const part: EmbeddingPairs = { ...heldOut, image: pick(heldOut.image), text: pick(heldOut.text), count: rows.length };
        bySpecificity[kind] = { count: rows.length, comparison: compareSeededArms(generated.shifted.map(pick), generated.baseline.map(pick), part, { resamples: bootstrap }) };
      }
    }
    writeFileSync(join(o.out, 'eval.json'), JSON.stringify({ ...evaluation, perSeed, spread, shiftedMinusBaseline: comparison, bySpecificity, trivialArms: baselines }, null, 2));
    console.log(formatSpreadTable(spread, baselines, seeds.length));
    if (comparison) console.log(`\n${formatComparison(comparison)}`);
    for (const [kind, r] of Object.entries(bySpecificity)) console.log(`\n${kind} captions: ${r.count} of ${heldOut.count} (retrieval among their own images)\n${formatComparison(r.comparison)}`);
  }
  console.log(`wrote ${o.out}/ (per run: config.json, checkpoint.safetensors, metrics.jsonl, loss.png, eval.json) and ${o.out}/eval.json`);
}
