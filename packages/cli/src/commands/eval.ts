// `sd eval`: the image-level evaluation of issue 15. The same captions (the first --n rows of an
// embedded split) get an image embedding from each arm — the shifted prior, the baseline prior, the
// CLIP text embedding as is, a ridge map fit on train, and the oracle (the CLIP image embedding of
// the real render the caption was written for) — and the same decoder turns each into an image with
// the same starting noise, sampler, steps and guidance. Writes eval.json, a grid and (with several
// guidance values) the plot of judge-FID against CLIP similarity; prints the tables. Before the
// decoder, each arm's embeddings are scored as a distribution, and for --diversity captions its
// samples per caption are set against real renders of scenes the caption describes. With the priors
// of several training seeds (--priors DIR of `train:prior --seeds`; --full), each prior arm runs once
// per seed: its rows are the mean over seeds, and shifted − baseline is the mean over seeds of the
// paired difference on each bootstrap resample of captions.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { initRuntime } from '@sd/kernels';
import {
  AutoencoderKL, HEAD_NAMES, UNet2DConditionModel, asDecoderUnet, captionRenders, compareDiversity, compareImageArms, defaultClipPath,
  encodeEmbeddings, encodeRgbPng, evalReference, evaluateImageArm, fitRidgeMap, generateEmbeddings, groupSpread, imageGrid, loadEmbeddedPriorData, loadExportedClip, loadJudge,
  disposeModule, disposePrior, loadPrior, meanStd, readDecoderSchedulerConfig, renderPlot, rowsAt, scoreArm, splitScenes, subset, subsetScenes, subsetImages, summarizeDiversity, type ArmMetrics, type DiversitySummary,
  type EvalScenes, type ImageArmMetrics, type ImageComparison, type ImageComparisonKey, type ImageSet, type Interval,
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
  /** Per-caption diversity (absent with --diversity 0, and with several seeds: see `seeds`). */
  diversity?: DiversityReport;
  /** Several training seeds: each prior arm seed by seed (the rows above are their means). */
  seeds?: SeedsReport;
  seconds: number;
}

/** Spread of `samples` embeddings per caption (see eval/diversity.ts), for all captions and the under-specified ones. */
export interface DiversityReport {
  captions: number;
  samples: number;
  /** Captions naming neither size, position nor background (their scenes are least pinned down). */
  underSpecified: number;
  real: { all: number; underSpecified: number };
  arms: Partial<Record<ImageArmName, { all: DiversitySummary; underSpecified: DiversitySummary }>>;
  /** Paired bootstrap over captions of the shifted ratio minus the baseline ratio. */
  shiftedMinusBaseline?: { all: Interval & { verdict: string }; underSpecified: (Interval & { verdict: string }) | null };
}

/** The prior runs of one training seed. */
export interface SeedRuns {
  /** The seed's folder (`seed-2`). */
  name?: string;
  shifted?: string;
  baseline?: string;
}

/** What the priors of several training seeds give, seed by seed (only with more than one seed). */
export interface SeedsReport {
  runs: SeedRuns[];
  embeddings: Partial<Record<PriorArm, ArmMetrics[]>>;
  /** Per guidance value (as a string key), each prior arm's metrics per seed. */
  images: Record<string, Partial<Record<PriorArm, ImageArmMetrics[]>>>;
  /** The per-caption diversity of each seed's priors. */
  diversity?: DiversityReport[];
}

type PriorArm = 'shifted' | 'baseline';
const PRIOR_ARMS: readonly PriorArm[] = ['shifted', 'baseline'];
const isPriorArm = (arm: ImageArmName): arm is PriorArm => (PRIOR_ARMS as readonly string[]).includes(arm);

/**
 * The prior runs per training seed: --priors DIR (DIR/seed-N/{shifted,baseline} as `train:prior
 * --seeds` writes them, in seed order, or DIR/{shifted,baseline}); with --full and no --priors,
 * runs/prior; else --shifted/--baseline (one seed). --full needs several seeds.
 */
export function priorSeedRuns(o: Pick<EvalCli, 'priors' | 'full' | 'shifted' | 'baseline'>, arms: readonly ImageArmName[]): SeedRuns[] {
  const wanted = arms.filter(isPriorArm);
  // No prior arm: nothing is per seed.
  if (wanted.length === 0) return [{}];
  const dir = o.priors ?? (o.full ? join('runs', 'prior') : undefined);
  if (dir === undefined) return [Object.fromEntries(wanted.map((arm) => [arm, resolvePrior('sd eval', o[arm] ?? arm).path]))];
  if (o.shifted !== undefined || o.baseline !== undefined) throw new Error('sd eval: give --priors (or --full) or --shifted/--baseline, not both');
  if (!existsSync(dir)) throw new Error(`sd eval: no prior runs at ${dir} (\`pnpm train:prior --seeds 0,1,2 --out ${dir}\` writes them)`);
  const seedDirs = readdirSync(dir).filter((d) => /^seed-\d+$/.test(d)).sort((x, y) => Number(x.slice(5)) - Number(y.slice(5)));
  const folders = seedDirs.length ? seedDirs.map((d) => join(dir, d)) : [dir];
  if (o.full && folders.length < 2) throw new Error(`sd eval --full: ${dir} holds the priors of one training seed; --full compares several (\`pnpm train:prior --seeds 0,1,2 --out ${dir}\`)`);
  return folders.map((folder, k) => ({
    name: seedDirs[k] ?? basename(folder),
    ...Object.fromEntries(wanted.map((arm) => {
      const path = join(folder, arm);
      if (!existsSync(path)) throw new Error(`sd eval: no ${arm} prior run at ${path}`);
      return [arm, path];
    })),
  }));
}

/** The prior arms' run paths of one seed (for eval.json's parts). */
const priorPaths = (runs: SeedRuns): Record<string, string> => Object.fromEntries(PRIOR_ARMS.flatMap((arm) => (runs[arm] ? [[arm, runs[arm]]] : [])));

/**
 * The mean over seeds of every number in a metrics object; every seed's object has the same shape
 * (numbers, nulls where a metric is undefined, arrays, objects; anything else must be equal).
 */
export function meanOverSeeds<T>(list: readonly T[]): T {
  const first = list[0] as unknown;
  const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  const kinds = new Set(list.filter((v) => v !== null).map(kind));
  if (kinds.size > 1) throw new Error(`meanOverSeeds: the seeds' metrics differ in shape (${list.map(kind).join(', ')})`);
  if (list.some((v) => v === null)) {
    // A number undefined for one seed (NaN written as null) is undefined for the mean.
    if (kinds.size === 0 || kinds.has('number')) return null as T;
    throw new Error('meanOverSeeds: a metric is missing for some seeds only');
  }
  if (typeof first === 'number') return ((list as unknown as number[]).reduce((a, b) => a + b, 0) / list.length) as T;
  if (Array.isArray(first)) return first.map((_, i) => meanOverSeeds(list.map((m) => (m as unknown[])[i]))) as T;
  if (typeof first === 'object') return Object.fromEntries(Object.keys(first as object).map((k) => [k, meanOverSeeds(list.map((m) => (m as Record<string, unknown>)[k]))])) as T;
  if (list.some((v) => v !== first)) throw new Error(`meanOverSeeds: the seeds disagree on a non-numeric value (${list.map(String).join(', ')})`);
  return first as T;
}

/** The arms whose samples for a caption can differ (the oracle decodes one real embedding per caption). */
const DIVERSITY_ARMS: readonly ImageArmName[] = ['shifted', 'baseline', 'text', 'ridge'];

export async function evalCommand(o: EvalCli): Promise<EvalReport> {
  const { split, n, arms, guidance, decode, priorSteps, bootstrap, diversity, images } = parseEval(o);
  // Every part is found (or named as missing) before anything is computed.
  const decoder = images ? resolveDecoder('sd eval', o.decoder) : null;
  const vaeSource = images ? resolveVae('sd eval', o.vae) : null;
  const seedRuns = priorSeedRuns(o, arms);
  const seeded = seedRuns.length > 1;
  const t0 = performance.now();
  await initRuntime();
  const clip = loadExportedClip(defaultClipPath());
  const { train, heldOut: all } = loadEmbeddedPriorData(split);
  for (const [option, count] of [['--n', n], ['--diversity', diversity.captions]] as const) {
    if (count > all.count) throw new Error(`${option} ${count}: the ${split} split has ${all.count} pairs`);
  }
  if (all.dim !== clip.embedDim) throw new Error(`the ${split} split holds ${all.dim}-d embeddings; the CLIP makes ${clip.embedDim}-d ones`);
  const heldOut = subset(all, 0, n);
  const scenes = splitScenes(split, Math.max(n, diversity.captions));
  const ridge = fitRidgeMap(train);
  // Each caption's text embedding `samples` times in a row: one caption's samples together.
  const diversityText = rowsAt(all.text, Int32Array.from({ length: diversity.captions * diversity.samples }, (_, j) => Math.floor(j / diversity.samples)), all.dim);
  const spreadOf = (rows: Float32Array) => groupSpread(rows, diversity.captions, diversity.samples, all.dim);
  // Per training seed (one entry without several): every arm's embeddings and diversity spreads; the
  // arms other than the priors are the same for every seed.
  const embeddings: Partial<Record<ImageArmName, Float32Array>>[] = seedRuns.map(() => ({}));
  const spreads: Partial<Record<ImageArmName, Float64Array>>[] = seedRuns.map(() => ({}));
  for (const arm of arms) {
    const diverse = diversity.captions > 0 && DIVERSITY_ARMS.includes(arm);
    if (isPriorArm(arm)) {
      for (const [s, runs] of seedRuns.entries()) {
        const prior = loadPrior(runs[arm]!);
        const sample = (text: Float32Array) => generateEmbeddings(prior, text, { steps: priorSteps, guidance: 1, seed: decode.seed });
        embeddings[s][arm] = await sample(heldOut.text);
        if (diverse) spreads[s][arm] = spreadOf(await sample(diversityText));
        disposePrior(prior);
      }
      continue;
    }
    let rows: Float32Array;
    let spread: Float64Array | undefined;
    if (arm === 'text') {
      rows = heldOut.text;
      if (diverse) spread = spreadOf(diversityText);
    } else if (arm === 'ridge') {
      rows = ridge(heldOut.text);
      if (diverse) spread = spreadOf(ridge(diversityText));
    } else rows = heldOut.image;
    for (const s of seedRuns.keys()) {
      embeddings[s][arm] = rows;
      if (spread) spreads[s][arm] = spread;
    }
  }
  const scored = embeddings.map((bySeed) => Object.fromEntries(arms.map((a) => [a, scoreArm(bySeed[a]!, heldOut)])) as Partial<Record<ImageArmName, ArmMetrics>>);
  const report: EvalReport = {
    split, n, decode, priorSteps,
    parts: { clip: defaultClipPath(), ...(seeded ? { priors: seedRuns.map((r) => [r.shifted, r.baseline].filter(Boolean).join(', ')).join('; ') } : priorPaths(seedRuns[0])) },
    images: {}, shiftedMinusBaseline: {}, gridCaptions: scenes.captions.slice(0, Math.min(8, n)),
    embeddings: Object.fromEntries(arms.map((a) => [a, seeded && isPriorArm(a) ? meanOverSeeds(scored.map((m) => m[a]!)) : scored[0][a]])),
    seconds: 0,
  };
  if (seeded) {
    report.seeds = { runs: seedRuns, embeddings: Object.fromEntries(arms.filter(isPriorArm).map((a) => [a, scored.map((m) => m[a]!)])), images: {} };
    console.log(`\n${seedRuns.length} training seeds: the prior arms' rows are means over seeds; shifted − baseline is the mean over seeds of the paired difference`);
  }
  if (diversity.captions > 0) {
    const real = spreadOf(await encodeEmbeddings(clip, captionRenders(scenes, diversity.captions, diversity.samples)));
    const reports = spreads.map((bySeed) => diversityReport(scenes, diversity, real, bySeed, bootstrap, decode.seed));
    if (seeded) report.seeds!.diversity = reports;
    else report.diversity = reports[0];
    reports.forEach((d, s) => {
      console.log(`\nper-caption diversity${seeded ? ` (training ${seedRuns[s].name}, ${s + 1} of ${reports.length})` : ''} (the split's first ${diversity.captions} captions, ${diversity.samples} samples each; spread: mean distance between a caption's unit embeddings):`);
      console.log(formatDiversity(d));
    });
  }
  mkdirSync(o.out, { recursive: true });
  if (!decoder || !vaeSource) {
    disposeModule(clip);
    return finish(report, o.out, t0, false);
  }

  const unet = asDecoderUnet(UNet2DConditionModel.fromPretrained(decoder.path), decoder.path);
  const parts = {
    unet,
    vae: AutoencoderKL.fromPretrained(vaeSource.path).eval(),
    schedulerConfig: readDecoderSchedulerConfig(decoder.path),
    clip,
    judge: loadJudge(),
  };
  report.parts = { decoder: decoder.path, vae: vaeSource.path, ...report.parts };
  if ((parts.vae.config.sample_size as number) !== parts.judge.config.side) throw new Error(`${vaeSource.path}: the VAE makes ${parts.vae.config.sample_size}-pixel images; the judge reads ${parts.judge.config.side}-pixel ones`);
  if (unet.config.input_dim !== all.dim) throw new Error(`the ${split} split holds ${all.dim}-d embeddings; the decoder takes ${unet.config.input_dim}-d ones`);
  console.log(`\n${split} split: ${n} captions; arms ${arms.join(', ')}; decoder ${decoder.path}, VAE ${vaeSource.path}; ${decode.steps} ${decode.sampler} steps, guidance ${guidance.join(', ')}, seed ${decode.seed}`);
  const ref = await evalReference(parts, subsetScenes(scenes, n), heldOut.text);
  for (const g of guidance) {
    const key = String(g);
    // Per seed for the prior arms; one entry for the others.
    const results: Partial<Record<ImageArmName, Awaited<ReturnType<typeof evaluateImageArm>>[]>> = {};
    for (const arm of arms) {
      const runs = isPriorArm(arm) ? seedRuns.length : 1;
      results[arm] = [];
      for (let s = 0; s < runs; s++) {
        const bar = countBar(`guidance ${g}, ${arm}${runs > 1 ? ` (${seedRuns[s].name}, ${s + 1}/${runs})` : ''}`, n);
        results[arm].push(await evaluateImageArm(parts, ref, embeddings[s][arm]!, { ...decode, guidance: g }, (done) => bar.update(done)));
        bar.stop();
      }
    }
    report.images[key] = Object.fromEntries(arms.map((a) => [a, meanOverSeeds(results[a]!.map((r) => r.metrics))]));
    if (seeded) report.seeds!.images[key] = Object.fromEntries(arms.filter(isPriorArm).map((a) => [a, results[a]!.map((r) => r.metrics)]));
    if (results.shifted && results.baseline) {
      report.shiftedMinusBaseline[key] = compareImageArms(results.shifted.map((r) => r.perCaption), results.baseline.map((r) => r.perCaption), ref, parts.judge.config.features, { resamples: bootstrap, seed: decode.seed });
    }
    const columns = Math.min(8, n);
    const rows: ImageSet[] = [subsetImages(scenes.real, 0, columns), ...arms.map((a) => subsetImages(results[a]![0].images, 0, columns))];
    writeFileSync(join(o.out, `grid-guidance-${key}.png`), encodeRgbPng(imageGrid(rows, columns)));
    console.log(`\nguidance ${g} (grid-guidance-${key}.png: a column per caption — ${report.gridCaptions.map((c) => `"${c}"`).join(', ')} — rows: real renders, then ${arms.join(', ')}${seeded ? '; the priors\' first training seed' : ''}):`);
    console.log(formatImageTable(report.images[key], arms));
    if (seeded) console.log('\n' + formatSeedTable(report.seeds!.images[key]));
    if (report.shiftedMinusBaseline[key]) console.log('\n' + formatImageComparison(report.shiftedMinusBaseline[key]));
  }
  if (guidance.length > 1) writeFileSync(join(o.out, 'fid-vs-clip.png'), plotSweep(report, arms, guidance));
  for (const m of [parts.unet, parts.vae, parts.judge, parts.clip]) disposeModule(m);
  return finish(report, o.out, t0, guidance.length > 1);
}

/** The prior arms' headline numbers seed by seed, with their mean ± std over seeds. */
export function formatSeedTable(perSeed: Partial<Record<PriorArm, ImageArmMetrics[]>>): string {
  const columns: [string, (m: ImageArmMetrics) => number, (x: number) => string][] = [
    ['judge-FID', (m) => m.judgeFid, (x) => x.toFixed(1)],
    ['judge all named', (m) => m.judge.allCorrect, (x) => pct(x)],
    ['CLIP image–text', (m) => m.clipImageText, (x) => x.toFixed(4)],
    ['CLIP image–image', (m) => m.clipImageImage, (x) => x.toFixed(4)],
  ];
  const lines = ['| prior, per training seed | ' + columns.map(([c]) => c).join(' | ') + ' |', `| --- |${' --- |'.repeat(columns.length)}`];
  for (const [arm, list] of Object.entries(perSeed) as [PriorArm, ImageArmMetrics[]][]) {
    lines.push(`| ${ARM_LABELS[arm]} | ` + columns.map(([, of, f]) => {
      const { mean, std } = meanStd(list.map(of));
      return `${list.map((m) => f(of(m))).join(' / ')} (${f(mean)} ± ${f(std)})`;
    }).join(' | ') + ' |');
  }
  return lines.join('\n');
}

/** Writes eval.json with the run's time and says what was written. */
function finish(report: EvalReport, out: string, t0: number, plotted: boolean): EvalReport {
  report.seconds = (performance.now() - t0) / 1000;
  writeFileSync(join(out, 'eval.json'), JSON.stringify(report, null, 2));
  console.log(`\n${report.seconds.toFixed(0)} s; wrote ${join(out, 'eval.json')}${plotted ? ` and ${join(out, 'fid-vs-clip.png')}` : ''}`);
  return report;
}

function diversityReport(
  scenes: EvalScenes, o: { captions: number; samples: number }, real: Float64Array, spreads: Partial<Record<ImageArmName, Float64Array>>, resamples: number, seed: number,
): DiversityReport {
  const under = scenes.mentions.slice(0, o.captions).flatMap((m, i) => (m.size || m.position || m.background ? [] : [i]));
  // NaN (null in eval.json, '–' in the table) over no captions.
  const mean = (xs: ArrayLike<number>, idx: readonly number[]) => meanStd(idx.map((i) => xs[i])).mean;
  const everyCaption = Array.from({ length: o.captions }, (_, i) => i);
  const report: DiversityReport = {
    captions: o.captions,
    samples: o.samples,
    underSpecified: under.length,
    real: { all: mean(real, everyCaption), underSpecified: mean(real, under) },
    arms: Object.fromEntries(Object.entries(spreads).map(([arm, s]) => [arm, { all: summarizeDiversity(s, real), underSpecified: summarizeDiversity(s, real, under) }])),
  };
  if (spreads.shifted && spreads.baseline) {
    const pick = (xs: Float64Array) => Float64Array.from(under, (i) => xs[i]);
    report.shiftedMinusBaseline = {
      all: compareDiversity(spreads.shifted, spreads.baseline, real, { resamples, seed }),
      // No interval over no captions: a small --diversity may hold no under-specified caption.
      underSpecified: under.length ? compareDiversity(pick(spreads.shifted), pick(spreads.baseline), pick(real), { resamples, seed }) : null,
    };
  }
  return report;
}

export function formatDiversity(d: DiversityReport): string {
  // Small spreads keep two significant digits (a collapsed sampler's are 1e-4, not "0.000").
  const f = (x: number) => (Number.isNaN(x) ? '–' : x === 0 ? '0' : Math.abs(x) < 0.01 ? x.toExponential(1) : x.toFixed(3));
  const header = `| arm | spread, all ${d.captions} captions | ratio to real | spread, ${d.underSpecified} under-specified | ratio to real |`;
  const rows = [`| real renders of the caption | ${f(d.real.all)} | 1 | ${f(d.real.underSpecified)} | 1 |`];
  for (const [arm, s] of Object.entries(d.arms) as [ImageArmName, NonNullable<DiversityReport['arms'][ImageArmName]>][]) {
    rows.push(`| ${ARM_LABELS[arm]} | ${f(s.all.spread)} | ${f(s.all.ratio)} | ${f(s.underSpecified.spread)} | ${f(s.underSpecified.ratio)} |`);
  }
  const lines = [header, '| --- | --- | --- | --- | --- |', ...rows];
  const c = d.shiftedMinusBaseline;
  if (c) {
    const say = (i: Interval & { verdict: string }) => `${f(i.estimate)} [${f(i.low)}, ${f(i.high)}] (${i.verdict === 'higher' ? 'shifted more diverse' : i.verdict === 'lower' ? 'baseline more diverse' : 'no difference'})`;
    const under = c.underSpecified ? say(c.underSpecified) : '– (none among these captions)';
    lines.push('', `shifted − baseline, mean per-caption ratio to real (paired bootstrap 95% over captions): all ${say(c.all)}; under-specified ${under}`);
  }
  return lines.join('\n');
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
