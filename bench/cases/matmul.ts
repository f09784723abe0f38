// fp32 matmul throughput on square and Linear-layer-like shapes: our adapter-selected kernel ('auto')
// against the reference, the portable shared-memory tiled kernel (64×64 tiles, 4×4 per thread); the
// textbook 16×16 one-element-per-thread kernel ('classic') too on small shapes (on lavapipe it runs
// at ~0.1 GFLOP/s: minutes per 2048³).
import { matmul, withTuning, type MatmulVariant } from '@sd/kernels';
import type { BenchCase } from '../harness.ts';
import { filled } from '../inputs.ts';


function matmulCase(M: number, K: number, N: number, variant: MatmulVariant | 'auto'): BenchCase {
  const flops = 2 * M * N * K;
  return {
    kernel: 'matmul',
    shape: `[${M}x${K}]·[${K}x${N}]`,
    variant,
    reference: variant === 'portable',
    flops,
    // Seconds per repetition on lavapipe for the big ones: a few repetitions are plenty.
    maxRepeats: flops >= 2 ** 32 ? 3 : undefined,
    async setup() {
      const a = filled([M, K], 1);
      const b = filled([K, N], 2);
      return {
        run: () => withTuning(variant === 'auto' ? {} : { matmul: { variant } }, () => matmul(a, b).dispose()),
        dispose: () => {
          a.dispose();
          b.dispose();
        },
      };
    },
    torch:
      variant === 'auto'
        ? `a = torch.rand(${M}, ${K}, device=dev) - 0.5\nb = torch.rand(${K}, ${N}, device=dev) - 0.5\nfn = lambda: torch.mm(a, b)`
        : undefined,
  };
}

const SHAPES: [number, number, number][] = [
  [256, 256, 256],
  [512, 512, 512],
  [1024, 1024, 1024],
  [2048, 2048, 2048],
  [4096, 512, 2048], // a Linear layer: 4096 tokens, 512 → 2048 features
];

export const cases: BenchCase[] = SHAPES.flatMap(([M, K, N]) => {
  const variants: Array<MatmulVariant | 'auto'> = ['portable', 'auto'];
  if (M * N * K <= 512 ** 3) variants.push('classic');
  return variants.map((v) => matmulCase(M, K, N, v));
});

