// The benchmark harness shared by `pnpm bench` (bench/index.ts; bench/page.ts with --browser) and the
// NVIDIA entry (bench/gpu.ts).
// A case sets up its inputs once; `run()` encodes one repetition; the harness times repetitions.
// Adding a case file is one line in bench/cases/index.ts.
import type { AdapterKind } from '@sd/kernels';

export interface BenchCase {
  /** Kernel family, used by `pnpm bench <filter>`: "matmul", "attention", "conv2d", … */
  kernel: string;
  /** Human-readable shape, e.g. "1024x1024x1024" or "[1,8,256,64] fwd+bwd". */
  shape: string;
  /** Which implementation this row measures, e.g. "auto", "classic" (default "auto"). */
  variant?: string;
  /**
   * Set on the one case of a (kernel, shape) group that the others are compared with: the table's
   * "vs ref" column is its time divided by theirs (above 1: faster than the reference).
   */
  reference?: boolean;
  /** Floating-point operations of one repetition (for GFLOP/s), if meaningful. */
  flops?: number;
  /** Bytes moved by one repetition (for GB/s), if meaningful. */
  bytes?: number;
  /** Adapter kinds to run on (default: all); e.g. seed-sized models only where they fit in time. */
  adapters?: AdapterKind[];
  /** Upper bound on timed repetitions (e.g. 3 for cases that take seconds on lavapipe). */
  maxRepeats?: number;
  /** Allocates inputs; returns the repetition and the clean-up. */
  setup(): Promise<{ run(): void; dispose(): void }>;
  /**
   * Optional PyTorch equivalent for bench/gpu.ts: Python statements, run with `torch` imported and
   * `dev` the CUDA device, that define `fn`, a callable doing one repetition of the same work.
   */
  torch?: string;
}

/** One measured case. */
export interface BenchResult {
  kernel: string;
  shape: string;
  variant: string;
  /** Median time of one repetition. */
  ms: number;
  /** Fastest repetition. */
  minMs: number;
  /** Timed samples (the median is over these). */
  repeats: number;
  /** Back-to-back repetitions per sample (short kernels are timed in groups). */
  inner: number;
  /** 'gpu': timestamp queries around the repetition's passes; 'wall': run() + sync on the host clock. */
  timing: 'gpu' | 'wall';
  gflops?: number;
  gbps?: number;
  /** Reference time / this time, when the group has a reference. */
  vsRef?: number;
  reference?: string;
  adapter: string;
}
