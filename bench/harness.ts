// The benchmark harness shared by `pnpm bench` (bench/index.ts) and the NVIDIA entry (bench/gpu.ts).
// A case sets up its inputs once; `run()` encodes one repetition; the harness times repetitions.

export interface BenchCase {
  /** Kernel family, used by `pnpm bench <filter>`: "matmul", "attention", "conv2d", … */
  kernel: string;
  /** Human-readable shape, e.g. "1024x1024x1024" or "[1,8,256,64] fwd+bwd". */
  shape: string;
  /** Floating-point operations of one repetition (for GFLOP/s), if meaningful. */
  flops?: number;
  /** Bytes moved by one repetition (for GB/s), if meaningful. */
  bytes?: number;
  /** Allocates inputs; returns the repetition and the clean-up. */
  setup(): Promise<{ run(): void; dispose(): void }>;
  /** Optional PyTorch snippet for bench/gpu.ts: Python statements that time the same work (see bench/gpu.ts). */
  torch?: string;
}
