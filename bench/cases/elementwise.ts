// Memory-bound elementwise throughput: c = a + b over contiguous f32 arrays (GB/s counts 3 arrays).
import { binary, DeviceArray } from '@sd/kernels';
import type { BenchCase } from '../harness.ts';

function addCase(n: number): BenchCase {
  return {
    kernel: 'add',
    shape: `[${n}]`,
    bytes: 3 * 4 * n,
    async setup() {
      const a = DeviceArray.from(new Float32Array(n).fill(1), [n]);
      const b = DeviceArray.from(new Float32Array(n).fill(2), [n]);
      return {
        run: () => binary('add', a, b).dispose(),
        dispose: () => {
          a.dispose();
          b.dispose();
        },
      };
    },
    torch: `x = torch.rand(${n}, device=dev)\ny = torch.rand(${n}, device=dev)\nfn = lambda: torch.add(x, y)`,
  };
}

export const cases: BenchCase[] = [addCase(1 << 20), addCase(1 << 24)];
