// Runs benchmark cases: warm-up, timed repetitions (GPU timestamps when available, else the wall
// clock around run() + sync), median; prints a table per kernel or one JSON object per line.
import { rt } from '@sd/kernels';
import type { BenchCase, BenchResult } from './harness.ts';
import { PassTimer } from './timer.ts';

export interface RunOptions {
  /** Keep cases whose kernel name contains one of these (all when empty). */
  filters: string[];
  json: boolean;
  /** Timed repetitions per case, at most (a case's maxRepeats may lower it). */
  repeats: number;
  /** Stop repeating a case after this much time, once 3 repetitions are in. */
  budgetMs: number;
  /** Force wall-clock timing even when timestamp queries exist. */
  wallClock?: boolean;
}

/** What the command line sets; the adapter's defaults fill in the rest (defaultOptions). */
export type BenchArgs = Omit<RunOptions, 'repeats' | 'budgetMs'> & Partial<Pick<RunOptions, 'repeats' | 'budgetMs'>>;

/**
 * The options the arguments set (filters, --json, --wall, --repeats N, --budget-ms N); throws on an
 * unknown option. `pnpm bench --browser` checks them with this before Chromium starts.
 */
export function parseArgs(args: string[]): BenchArgs {
  const opts: BenchArgs = { filters: [], json: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--json') opts.json = true;
    else if (arg === '--wall') opts.wallClock = true;
    else if (arg === '--repeats') opts.repeats = Math.max(1, Number(args[++i]));
    else if (arg === '--budget-ms') opts.budgetMs = Number(args[++i]);
    else if (arg.startsWith('--')) throw new Error(`bench: unknown option ${arg} (use --json, --wall, --repeats N, --budget-ms N; pnpm bench also takes --browser)`);
    else opts.filters.push(arg);
  }
  return opts;
}

/** The arguments' options, with this adapter's default repetitions and budget where they set none. */
export function defaultOptions(args: string[]): RunOptions {
  const lavapipe = rt().info.kind === 'lavapipe';
  return { repeats: lavapipe ? 5 : 20, budgetMs: lavapipe ? 4000 : 2000, ...parseArgs(args) };
}

export function selectCases(cases: BenchCase[], filters: string[]): BenchCase[] {
  const kind = rt().info.kind;
  const here = cases.filter((c) => !c.adapters || c.adapters.includes(kind));
  return filters.length === 0 ? here : here.filter((c) => filters.some((f) => c.kernel.includes(f)));
}

export function adapterName(): string {
  const info = rt().info;
  return `${info.description || info.vendor} [${info.kind}]`;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Measures one case. Console output of the case itself goes to stderr in JSON mode. */
async function measure(c: BenchCase, opts: RunOptions, timer: PassTimer | null): Promise<BenchResult> {
  const { run, dispose } = await c.setup();
  try {
    const t0 = performance.now();
    run(); // warm-up: compiles pipelines, fills pools and caches
    await rt().sync();
    if (performance.now() - t0 < opts.budgetMs / 10) {
      run();
      await rt().sync();
    }
    const times: number[] = [];
    let timing: 'gpu' | 'wall' = timer && !opts.wallClock ? 'gpu' : 'wall';
    /** Time of one repetition, from `inner` back-to-back ones. */
    const sample = async (inner: number): Promise<number> => {
      const many = () => {
        for (let i = 0; i < inner; i++) run();
      };
      if (timing === 'gpu') {
        const ms = await timer!.time(many);
        if (ms !== null) return ms / inner;
        // No compute pass to time (or too many): the wall clock for the whole case, not a mix.
        timing = 'wall';
        times.length = 0;
      }
      const w0 = performance.now();
      many();
      await rt().sync();
      return (performance.now() - w0) / inner;
    };
    // Short repetitions are timed in groups: timestamps are quantized (about 4 µs in Dawn) and the
    // wall clock includes a submit and a wait per sample.
    const single = await sample(1);
    const minSampleMs = timing === 'gpu' ? 1 : 10;
    const estimate = single < minSampleMs ? Math.min(single, await sample(1)) : single;
    const inner = Math.min(1000, Math.max(1, Math.ceil(minSampleMs / Math.max(estimate, 1e-3))));
    if (inner === 1) times.push(single);
    const maxRepeats = Math.min(opts.repeats, c.maxRepeats ?? Infinity);
    const start = performance.now();
    while (times.length < maxRepeats && (times.length < 3 || performance.now() - start < opts.budgetMs)) {
      times.push(await sample(inner));
    }
    const ms = median(times);
    return {
      kernel: c.kernel,
      shape: c.shape,
      variant: c.variant ?? 'auto',
      ms,
      minMs: Math.min(...times),
      repeats: times.length,
      inner,
      timing,
      gflops: c.flops ? c.flops / ms / 1e6 : undefined,
      gbps: c.bytes ? c.bytes / ms / 1e6 : undefined,
      adapter: adapterName(),
    };
  } finally {
    dispose();
    await rt().sync();
  }
}

/** Fills vsRef for every group (same kernel and shape) that has a reference case. */
function compareWithReferences(results: BenchResult[], cases: BenchCase[]): void {
  results.forEach((r, i) => {
    const refIndex = cases.findIndex((c, j) => c.reference && c.kernel === r.kernel && c.shape === r.shape && results[j]);
    if (refIndex < 0 || refIndex === i || !results[refIndex]) return;
    r.vsRef = results[refIndex].ms / r.ms;
    r.reference = results[refIndex].variant;
  });
}

/** Milliseconds with about 4 significant digits (GPU kernels can take microseconds). */
export function fmtMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(3) : ms.toPrecision(3);
}

export function formatTable(kernel: string, results: BenchResult[]): string {
  const rate = (r: BenchResult) => (r.gflops !== undefined ? r.gflops.toFixed(1) : r.gbps !== undefined ? r.gbps.toFixed(1) : '-');
  const unit = results.some((r) => r.gflops !== undefined) ? 'GFLOP/s' : results.some((r) => r.gbps !== undefined) ? 'GB/s' : 'rate';
  const reference = results.find((r) => r.reference)?.reference;
  const header = ['shape', 'variant', 'median ms', 'min ms', unit, reference ? `vs ${reference}` : 'vs ref', 'reps', 'timing'];
  // reps: timed samples × repetitions per sample
  const rows = results.map((r) => [
    r.shape,
    r.variant,
    fmtMs(r.ms),
    fmtMs(r.minMs),
    rate(r),
    r.vsRef !== undefined ? `${r.vsRef.toFixed(2)}x` : '',
    r.inner > 1 ? `${r.repeats}x${r.inner}` : String(r.repeats),
    r.timing,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [`\n${kernel} — ${results[0]?.adapter ?? ''}`, line(header), ...rows.map(line)].join('\n');
}

/** JSON line of a result, with the rate under "gflops" or "gbps". */
export function jsonLine(r: BenchResult): string {
  return JSON.stringify(r);
}

/**
 * Runs the selected cases kernel by kernel, printing each kernel's table (or JSON lines) when it is
 * done; returns every result. A case that throws is reported and skipped.
 */
export async function runBench(all: BenchCase[], opts: RunOptions): Promise<BenchResult[]> {
  const cases = selectCases(all, opts.filters);
  if (cases.length === 0) {
    const kernels = [...new Set(all.map((c) => c.kernel))].join(', ');
    throw new Error(`bench: no case matches ${opts.filters.join(' ')} (kernels: ${kernels})`);
  }
  const timer = PassTimer.create();
  if (!opts.json) {
    console.log(`adapter: ${adapterName()}; timing: ${timer && !opts.wallClock ? 'GPU timestamp queries' : 'wall clock around run() + sync'}`);
  }
  const out: BenchResult[] = [];
  const kernels = [...new Set(cases.map((c) => c.kernel))];
  for (const kernel of kernels) {
    const group = cases.filter((c) => c.kernel === kernel);
    const results: BenchResult[] = [];
    for (const c of group) {
      const log = console.log;
      if (opts.json) console.log = (...args: unknown[]) => console.error(...args);
      try {
        results.push(await measure(c, opts, timer));
      } catch (e) {
        console.error(`bench: ${c.kernel} ${c.shape} ${c.variant ?? ''} failed: ${(e as Error).message}`);
        results.push(undefined as unknown as BenchResult);
      } finally {
        console.log = log;
      }
    }
    compareWithReferences(results, group);
    const done = results.filter((r) => r);
    if (opts.json) for (const r of done) console.log(jsonLine(r));
    else if (done.length) console.log(formatTable(kernel, done));
    out.push(...done);
  }
  timer?.destroy();
  return out;
}
