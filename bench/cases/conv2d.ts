// conv2d throughput: the 3×3 convolutions of a small and of the Stable-Diffusion-sized UNet level
// (64×64 latents), forward alone and forward + all three gradients, with the adapter's variant and
// the portable one for comparison. PyTorch equivalents use cuDNN in fp32 (TF32 off, see bench/gpu.ts).
import { DeviceArray, conv2d, conv2dBackwardBias, conv2dBackwardInput, conv2dBackwardWeight, withTuning, type Conv2dVariant } from '@sd/kernels';
import type { BenchCase } from '../harness.ts';

function filled(shape: number[], seed: number, scale = 1): DeviceArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 2 ** 32 - 0.5) * scale;
  }
  return DeviceArray.from(data, shape);
}

function convCase(n: number, c: number, o: number, hw: number, backward: boolean, variant: Conv2dVariant | null): BenchCase {
  const fwdFlops = 2 * n * o * c * 9 * hw * hw;
  const torchInputs = `x = torch.randn(${n}, ${c}, ${hw}, ${hw}, device=dev)
w = torch.randn(${o}, ${c}, 3, 3, device=dev) * 0.05
b = torch.randn(${o}, device=dev)`;
  return {
    kernel: 'conv2d',
    shape: `3x3 [${n}, ${c}→${o}, ${hw}x${hw}] ${backward ? 'fwd+bwd' : 'fwd'}`,
    variant: variant ?? 'auto',
    // Forward, input gradient and weight gradient are each one GEMM-sized pass.
    flops: backward ? 3 * fwdFlops : fwdFlops,
    maxRepeats: fwdFlops > 2e9 ? 3 : undefined,
    async setup() {
      const x = filled([n, c, hw, hw], 1);
      const w = filled([o, c, 3, 3], 2, 0.1);
      const b = filled([o], 3);
      const dy = filled([n, o, hw, hw], 4);
      const opts = { padding: 1 };
      const run = () =>
        withTuning(variant ? { conv2d: { variant } } : {}, () => {
          conv2d(x, w, b, opts).dispose();
          if (backward) {
            conv2dBackwardInput(dy, w, x.shape, opts).dispose();
            conv2dBackwardWeight(dy, x, w.shape, opts).dispose();
            conv2dBackwardBias(dy).dispose();
          }
        });
      return { run, dispose: () => [x, w, b, dy].forEach((a) => a.dispose()) };
    },
    torch:
      variant !== null
        ? undefined
        : backward
          ? `${torchInputs}
g = torch.randn(${n}, ${o}, ${hw}, ${hw}, device=dev)
def fn():
    torch.nn.functional.conv2d(x, w, b, padding=1)
    torch.ops.aten.convolution_backward(g, x, w, [${o}], [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [True, True, True])`
          : `${torchInputs}
fn = lambda: torch.nn.functional.conv2d(x, w, b, padding=1)`,
  };
}

export const cases: BenchCase[] = [];
for (const [n, c, o, hw] of [
  [1, 64, 64, 64],
  [1, 320, 320, 64],
] as const) {
  for (const backward of [false, true]) {
    cases.push(convCase(n, c, o, hw, backward, null));
    // The portable kernel as a baseline on the small shape (on lavapipe it is the slow path).
    if (c === 64) cases.push(convCase(n, c, o, hw, backward, 'portable'));
  }
}
