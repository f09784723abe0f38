// The benchmark as one bundle for NVIDIA machines without Node (`../shared/device/pack.sh bench/gpu.ts`,
// then `bash .gpu/run.sh gpu [kernel filters...] [--json] [--repeats N]`): our cases first, then —
// when `python3 -c "import torch"` works and CUDA is available — PyTorch fp32 with TF32 off on the
// same shapes (CUDA events, warm-up, median), and the ratio of our throughput to PyTorch's.
import { spawnSync } from 'node:child_process';
import { initRuntime } from '@sd/kernels';
import type { BenchCase, BenchResult } from './harness.ts';
import * as suites from './cases/index.ts';
import { defaultOptions, fmtMs, runBench, selectCases } from './runner.ts';

interface TorchResult {
  index: number;
  ms?: number;
  device?: string;
  error?: string;
}

/** One Python program timing every case's `torch` snippet; prints one JSON object per line. */
function torchScript(cases: BenchCase[], repeats: number): string {
  const entries = cases.map((c, index) => ({ index, code: c.torch }));
  return `
import json, statistics, torch
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = 'cuda'
name = torch.cuda.get_device_name()
for case in json.loads(${JSON.stringify(JSON.stringify(entries))}):
    try:
        ns = {'torch': torch, 'dev': dev}
        exec(case['code'], ns)
        fn = ns['fn']
        for _ in range(5):
            fn()
        torch.cuda.synchronize()
        def sample(inner):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(inner):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / inner
        # like our side: short calls are timed in groups lasting at least 1 ms
        inner = min(1000, max(1, int(1.0 / max(sample(1), 1e-3)) + 1))
        times = [sample(inner) for _ in range(${repeats})]
        print(json.dumps({'index': case['index'], 'ms': statistics.median(times), 'inner': inner, 'device': name}), flush=True)
        del ns, fn
        torch.cuda.empty_cache()
    except Exception as e:
        print(json.dumps({'index': case['index'], 'error': repr(e)}), flush=True)
`;
}

function runTorch(cases: BenchCase[], repeats: number): TorchResult[] | string {
  const probe = spawnSync('python3', ['-c', 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)'], { encoding: 'utf8' });
  if (probe.error) return `python3 not runnable (${probe.error.message})`;
  if (probe.status === 3) return 'PyTorch is installed but CUDA is not available to it';
  if (probe.status !== 0) return `python3 -c "import torch" failed: ${(probe.stderr || '').trim().split('\n').pop()}`;
  const run = spawnSync('python3', ['-'], { input: torchScript(cases, repeats), encoding: 'utf8', maxBuffer: 1 << 24, timeout: 30 * 60_000 });
  if (run.status !== 0) return `the PyTorch timing script failed: ${(run.stderr || run.error?.message || '').trim().split('\n').slice(-3).join(' | ')}`;
  return run.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as TorchResult);
}

await initRuntime();
const opts = defaultOptions(process.argv.slice(2));
const all = Object.values(suites).flat();
const ours = await runBench(all, opts);

const torchCases = selectCases(all, opts.filters).filter((c) => c.torch);
const torch = torchCases.length ? runTorch(torchCases, Math.max(opts.repeats, 20)) : 'no selected case has a PyTorch equivalent';
if (typeof torch === 'string') {
  console.log(opts.json ? JSON.stringify({ torch: 'skipped', reason: torch }) : `\nPyTorch comparison skipped: ${torch}`);
} else {
  const rows: string[][] = [];
  for (const t of torch) {
    const c = torchCases[t.index];
    const mine = ours.find((r: BenchResult) => r.kernel === c.kernel && r.shape === c.shape && r.variant === (c.variant ?? 'auto'));
    if (t.error || t.ms === undefined) {
      console.error(`torch ${c.kernel} ${c.shape} failed: ${t.error}`);
      continue;
    }
    const rate = (ms: number) => (c.flops ? c.flops / ms / 1e6 : c.bytes ? c.bytes / ms / 1e6 : undefined);
    const ratio = mine ? t.ms / mine.ms : undefined; // our throughput / PyTorch's
    if (opts.json) {
      const key = c.flops ? 'gflops' : 'gbps';
      console.log(JSON.stringify({ kernel: c.kernel, shape: c.shape, variant: 'torch', ms: t.ms, [key]: rate(t.ms), adapter: t.device, timing: 'cuda-events' }));
      if (mine) console.log(JSON.stringify({ kernel: c.kernel, shape: c.shape, variant: mine.variant, compare: 'torch', ours_ms: mine.ms, torch_ms: t.ms, ratio, adapter: mine.adapter }));
    }
    const fmtRate = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(1));
    rows.push([c.kernel, c.shape, mine ? fmtMs(mine.ms) : '-', fmtMs(t.ms), fmtRate(mine && rate(mine.ms)), fmtRate(rate(t.ms)), ratio ? `${ratio.toFixed(2)}x` : '-']);
  }
  if (!opts.json && rows.length) {
    const device = torch.find((t) => t.device)?.device ?? '';
    const header = ['kernel', 'shape', 'ours ms', 'torch ms', 'ours rate', 'torch rate', 'ours/torch'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => cells.map((x, i) => (i < 2 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ');
    console.log(`\nPyTorch fp32, TF32 off (${device}); rate = GFLOP/s or GB/s; ours/torch = throughput ratio`);
    console.log([line(header), ...rows.map(line)].join('\n'));
  }
}
process.exit(0); // Dawn keeps the event loop alive
