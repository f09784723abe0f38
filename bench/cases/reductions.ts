// Memory-bound row/column kernels: sum (rows, columns, everything), softmax, layerNorm fwd+bwd and
// cross-entropy fwd+bwd. GB/s counts the minimal traffic (each input read once, each output written once).
import { crossEntropy, crossEntropyBackward, DeviceArray, layerNorm, layerNormBackward, softmax, sum } from '@sd/kernels';
import type { BenchCase } from '../harness.ts';
import { filled } from '../inputs.ts';


function sumCase(rows: number, cols: number, axes: number[] | undefined, label: string): BenchCase {
  const outs = axes === undefined ? 1 : axes[0] === 0 ? cols : rows;
  const dims = axes === undefined ? '' : `, dim=${axes[0]}`;
  return {
    kernel: 'sum',
    shape: `[${rows}, ${cols}] ${label}`,
    bytes: 4 * (rows * cols + outs),
    async setup() {
      const x = filled([rows, cols], 1);
      return { run: () => sum(x, axes).dispose(), dispose: () => x.dispose() };
    },
    torch: `x = torch.rand(${rows}, ${cols}, device=dev)\nfn = lambda: torch.sum(x${dims})`,
  };
}

function softmaxCase(rows: number, cols: number): BenchCase {
  return {
    kernel: 'softmax',
    shape: `[${rows}, ${cols}]`,
    bytes: 2 * 4 * rows * cols,
    async setup() {
      const x = filled([rows, cols], 2);
      return { run: () => softmax(x).dispose(), dispose: () => x.dispose() };
    },
    torch: `x = torch.randn(${rows}, ${cols}, device=dev)\nfn = lambda: torch.softmax(x, -1)`,
  };
}

function layerNormCase(rows: number, cols: number): BenchCase {
  return {
    kernel: 'layernorm',
    shape: `[${rows}, ${cols}] fwd+bwd`,
    bytes: 4 * rows * cols * 6, // fwd: x, y; bwd: x, dy, dx, and x, dy again for the weight/bias sums
    async setup() {
      const x = filled([rows, cols], 3);
      const dy = filled([rows, cols], 4);
      const w = filled([cols], 5);
      const b = filled([cols], 6);
      const run = () => {
        const f = layerNorm(x, w, b);
        const g = layerNormBackward(dy, x, w, f.mean, f.rstd);
        for (const a of [f.y, f.mean, f.rstd, g.dx, g.dweight, g.dbias]) a?.dispose();
      };
      return { run, dispose: () => [x, dy, w, b].forEach((a) => a.dispose()) };
    },
    torch: `x = torch.randn(${rows}, ${cols}, device=dev, requires_grad=True)
w = torch.randn(${cols}, device=dev, requires_grad=True)
b = torch.randn(${cols}, device=dev, requires_grad=True)
g = torch.randn(${rows}, ${cols}, device=dev)
def fn():
    torch.nn.functional.layer_norm(x, (${cols},), w, b).backward(g)`,
  };
}

function crossEntropyCase(rows: number, classes: number): BenchCase {
  return {
    kernel: 'crossentropy',
    shape: `[${rows}, ${classes}] fwd+bwd`,
    bytes: 4 * rows * classes * 3, // logits read twice, dlogits written
    async setup() {
      const x = filled([rows, classes], 7);
      const t = DeviceArray.from(Int32Array.from({ length: rows }, (_, i) => (i * 7919) % classes), [rows], 'i32');
      const one = DeviceArray.from([1], []);
      const run = () => {
        const { loss, saved } = crossEntropy(x, t);
        const dx = crossEntropyBackward(one, x, t, saved);
        for (const a of [loss, saved.stats, saved.count, dx]) a?.dispose();
      };
      return { run, dispose: () => [x, t, one].forEach((a) => a.dispose()) };
    },
    torch: `x = torch.randn(${rows}, ${classes}, device=dev, requires_grad=True)
t = torch.randint(0, ${classes}, (${rows},), device=dev)
def fn():
    torch.nn.functional.cross_entropy(x, t).backward()`,
  };
}

export const cases: BenchCase[] = [
  sumCase(4096, 1024, [1], 'rows'),
  sumCase(4096, 1024, [0], 'columns'),
  sumCase(4096, 1024, undefined, 'all'),
  softmaxCase(4096, 1024),
  softmaxCase(64, 50_000),
  layerNormCase(4096, 768),
  crossEntropyCase(1024, 1000),
];
