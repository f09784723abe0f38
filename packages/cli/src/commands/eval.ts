// `sd eval`: the image-level evaluation of issue 15. The same captions (the first --n rows of an
// embedded split) get an image embedding from each arm — the shifted prior, the baseline prior, the
// CLIP text embedding as is, a ridge map fit on train, and the oracle (the CLIP image embedding of
// the real render the caption was written for) — and the same decoder turns each into an image with
// the same starting noise, sampler, steps and guidance. Writes eval.json, a grid and (with several
// guidance values) the plot of judge-FID against CLIP similarity; prints the tables.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initRuntime } from '@sd/kernels';
import {
  AutoencoderKL, HEAD_NAMES, UNet2DConditionModel, asDecoderUnet, compareImageArms, defaultClipPath, encodeRgbPng, evalReference, evaluateImageArm,
  fitRidgeMap, generateEmbeddings, imageGrid, loadEmbeddedPriorData, loadExportedClip, loadJudge, loadPrior, readDecoderSchedulerConfig, renderPlot, scoreArm,
  splitScenes, subset, subsetImages, type ArmMetrics, type ImageArmMetrics, type ImageComparison, type ImageComparisonKey, type ImageSet,
} from '@sd/models';
import { parseEval, type EvalCli, type ImageArmName } from '../options.ts';
import { resolveDecoder, resolvePrior, resolveVae } from '../parts.ts';
import { countBar } from '../progress.ts';

const ARM_LABELS: Record<ImageArmName, string> = {
  shifted: 'shifted prior',
  baseline: 'baseline prior',
  text: 'text embedding as is',
  ridge: 'ridge map (fit on train)',
  oracle: 'oracle (real image embedding)',
};

export interface EvalReport {
  split: string;
  n: number;
  decode: { steps: number; sampler: string; seed: number; batchSize: number };
  priorSteps: number;
  parts: Record<string, string>;
  /** Per guidance value (as a string key), per arm. */
  images: Record<string, Partial<Record<ImageArmName, ImageArmMetrics>>>;
  /** shifted − baseline per guidance value, when both arms ran. */
  shiftedMinusBaseline: Record<string, Record<ImageComparisonKey, ImageComparison>>;
  /** The captions of the grids' columns (the split's first rows). */
  gridCaptions: string[];
  /** The arms' embeddings before the decoder, against the split's real image embeddings. */
  embeddings: Partial<Record<ImageArmName, ArmMetrics>>;
  seconds: number;
}

export async function evalCommand(o: EvalCli): Promise<EvalReport> {
  const { split, n, arms, guidance, decode, priorSteps, bootstrap } = parseEval(o);
  // Every part is found (or named as missing) before anything is computed.
  const decoder = resolveDecoder('sd eval', o.decoder);
  const vaeSource = resolveVae('sd eval', o.vae);
  const priorPaths: Partial<Record<'shifted' | 'baseline', string>> = {};
  for (const arm of ['shifted', 'baseline'] as const) {
    if (!arms.includes(arm)) continue;
    priorPaths[arm] = resolvePrior('sd eval', o[arm] ?? arm).path;
  }
  const t0 = performance.now();
  await initRuntime();
  const unet = asDecoderUnet(UNet2DConditionModel.fromPretrained(decoder.path), decoder.path);
  const parts = {
    unet,
    vae: AutoencoderKL.fromPretrained(vaeSource.path).eval(),
    schedulerConfig: readDecoderSchedulerConfig(decoder.path),
    clip: loadExportedClip(defaultClipPath()),
    judge: loadJudge(),
  };
  if ((parts.vae.config.sample_size as number) !== parts.judge.config.side) throw new Error(`${vaeSource.path}: the VAE makes ${parts.vae.config.sample_size}-pixel images; the judge reads ${parts.judge.config.side}-pixel ones`);
  const { train, heldOut: all } = loadEmbeddedPriorData(split);
  if (n > all.count) throw new Error(`--n ${n}: the ${split} split has ${all.count} pairs`);
  if (all.dim !== parts.clip.embedDim || unet.config.input_dim !== all.dim) throw new Error(`the ${split} split holds ${all.dim}-d embeddings; the CLIP makes ${parts.clip.embedDim}-d ones and the decoder takes ${unet.config.input_dim}-d ones`);
  const heldOut = subset(all, 0, n);
  console.log(`${split} split: ${n} captions; arms ${arms.join(', ')}; decoder ${decoder.path}, VAE ${vaeSource.path}; ${decode.steps} ${decode.sampler} steps, guidance ${guidance.join(', ')}, seed ${decode.seed}`);

  const scenes = splitScenes(split, n);
  const ref = await evalReference(parts, scenes, heldOut.text);
  const embeddings: Partial<Record<ImageArmName, Float32Array>> = {};
  for (const arm of arms) {
    if (arm === 'shifted' || arm === 'baseline') {
      const prior = loadPrior(priorPaths[arm]!);
      embeddings[arm] = await generateEmbeddings(prior, heldOut.text, { steps: priorSteps, guidance: 1, seed: decode.seed });
      for (const p of prior.model.parameters()) p.dispose();
    } else if (arm === 'text') embeddings[arm] = heldOut.text;
    else if (arm === 'ridge') embeddings[arm] = fitRidgeMap(train)(heldOut.text);
    else embeddings[arm] = heldOut.image;
  }
  const report: EvalReport = {
    split, n, decode, priorSteps,
    parts: { decoder: decoder.path, vae: vaeSource.path, clip: defaultClipPath(), ...priorPaths },
    images: {}, shiftedMinusBaseline: {}, gridCaptions: scenes.captions.slice(0, Math.min(8, n)),
    embeddings: Object.fromEntries(arms.map((a) => [a, scoreArm(embeddings[a]!, heldOut)])),
    seconds: 0,
  };
  mkdirSync(o.out, { recursive: true });
  for (const g of guidance) {
    const key = String(g);
    const results: Partial<Record<ImageArmName, Awaited<ReturnType<typeof evaluateImageArm>>>> = {};
    for (const arm of arms) {
      const bar = countBar(`guidance ${g}, ${arm}`, n);
      results[arm] = await evaluateImageArm(parts, ref, embeddings[arm]!, { ...decode, guidance: g }, (done) => bar.update(done));
      bar.stop();
    }
    report.images[key] = Object.fromEntries(arms.map((a) => [a, results[a]!.metrics]));
    if (results.shifted && results.baseline) {
      report.shiftedMinusBaseline[key] = compareImageArms(results.shifted.perCaption, results.baseline.perCaption, ref, parts.judge.config.features, { resamples: bootstrap, seed: decode.seed });
    }
    const columns = Math.min(8, n);
    const rows: ImageSet[] = [subsetImages(scenes.real, 0, columns), ...arms.map((a) => subsetImages(results[a]!.images, 0, columns))];
    writeFileSync(join(o.out, `grid-guidance-${key}.png`), encodeRgbPng(imageGrid(rows, columns)));
    console.log(`\nguidance ${g} (grid-guidance-${key}.png: a column per caption — ${report.gridCaptions.map((c) => `"${c}"`).join(', ')} — rows: real renders, then ${arms.join(', ')}):`);
    console.log(formatImageTable(report.images[key], arms));
    if (report.shiftedMinusBaseline[key]) console.log('\n' + formatImageComparison(report.shiftedMinusBaseline[key]));
  }
  if (guidance.length > 1) writeFileSync(join(o.out, 'fid-vs-clip.png'), plotSweep(report, arms, guidance));
  report.seconds = (performance.now() - t0) / 1000;
  writeFileSync(join(o.out, 'eval.json'), JSON.stringify(report, null, 2));
  console.log(`\n${report.seconds.toFixed(0)} s; wrote ${join(o.out, 'eval.json')}${guidance.length > 1 ? ` and ${join(o.out, 'fid-vs-clip.png')}` : ''}`);
  for (const m of [parts.unet, parts.vae, parts.judge, parts.clip]) for (const p of m.parameters()) p.dispose();
  return report;
}

const pct = (x: number) => (Number.isNaN(x) ? '–' : `${(100 * x).toFixed(1)}%`);

export function formatImageTable(metrics: Partial<Record<ImageArmName, ImageArmMetrics>>, arms: readonly ImageArmName[]): string {
  const header = `| arm | ${HEAD_NAMES.map((h) => `judge ${h}`).join(' | ')} | all named | judge-FID | judge-KID | CLIP-FID | CLIP image–text | CLIP image–image |`;
  const rows = arms.map((a) => {
    const m = metrics[a]!;
    return `| ${ARM_LABELS[a]} | ${HEAD_NAMES.map((h) => pct(m.judge.perHead[h])).join(' | ')} | ${pct(m.judge.allCorrect)} | ${m.judgeFid.toFixed(2)} | ${m.judgeKid.mean.toPrecision(4)} ± ${m.judgeKid.std.toPrecision(2)} | ${m.clipFid.toFixed(4)} | ${m.clipImageText.toFixed(4)} | ${m.clipImageImage.toFixed(4)} |`;
  });
  return [header, `| --- |${' --- |'.repeat(HEAD_NAMES.length + 6)}`, ...rows].join('\n');
}

export function formatImageComparison(c: Record<ImageComparisonKey, ImageComparison>): string {
  const fmt = (k: ImageComparisonKey, x: number) => (k.startsWith('judge ') ? `${(100 * x).toFixed(1)} pt` : k === 'judge-FID' ? x.toFixed(2) : x.toFixed(4));
  const say = { 'A higher': 'shifted higher', 'A lower': 'shifted lower', 'no difference': 'no difference (interval contains 0)' };
  const rows = (Object.keys(c) as ImageComparisonKey[]).map((k) => `| ${k} | ${fmt(k, c[k].estimate)} | [${fmt(k, c[k].low)}, ${fmt(k, c[k].high)}] | ${say[c[k].verdict]} |`);
  return ['| shifted − baseline | estimate | paired bootstrap 95% interval | verdict |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

const COLOURS: Record<ImageArmName, [number, number, number]> = { shifted: [200, 40, 40], baseline: [40, 90, 200], text: [40, 150, 60], ridge: [160, 100, 20], oracle: [120, 120, 120] };

/** The seed's plot: judge-FID (y) against CLIP image–text similarity (x), one line per arm through the guidance values. */
function plotSweep(report: EvalReport, arms: readonly ImageArmName[], guidance: readonly number[]): Uint8Array {
  const series = arms.map((a) => ({
    label: a,
    color: COLOURS[a],
    points: guidance.map((g) => ({ x: report.images[String(g)][a]!.clipImageText, y: report.images[String(g)][a]!.judgeFid })),
  }));
  return renderPlot(series, { xTitle: 'clip image-text similarity', yTitle: 'judge-fid (lower is better)', logY: false });
}
