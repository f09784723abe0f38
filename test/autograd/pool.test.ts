// avgPool2d (kernel = stride) and inference-form batch norm against float64 references, with the
// pooling gradient checked analytically (each input gets 1/k² of its window's upstream gradient).
import { describe, expect, it } from 'vitest';
import { avgPool2d, batchNormInference, mul, nn, sum, tensor, tidy } from '@sd/autograd';
import { expectClose } from '../util/close.ts';
import { makeRng, normal, uniform } from '../util/random.ts';
import { refAvgPool } from '../util/ref/pool.ts';

describe('avgPool2d', () => {
  const cases: { shape: number[]; k: number }[] = [
    { shape: [1, 1, 4, 4], k: 2 },
    { shape: [2, 3, 8, 6], k: 2 },
    { shape: [1, 5, 7, 9], k: 2 }, // odd sizes: the last row/column is dropped (floor mode)
    { shape: [3, 2, 9, 9], k: 3 },
    { shape: [1, 4, 5, 5], k: 1 },
  ];
  for (const { shape, k } of cases) {
    it(`forward and gradient for ${JSON.stringify(shape)}, kernel ${k}`, async () => {
      const rng = makeRng(shape.reduce((a, b) => a * 31 + b, k));
      const size = shape.reduce((a, b) => a * b, 1);
      const xs = uniform(rng, size);
      const [n, c, h, w] = shape;
      const oh = Math.floor(h / k);
      const ow = Math.floor(w / k);
      const weights = uniform(rng, n * c * oh * ow);
      const { y, grad } = await tidy(async () => {
        const x = tensor(xs, shape, { requiresGrad: true });
        const out = avgPool2d(x, k);
        sum(mul(out, tensor(weights, out.shape))).backward();
        return { y: await out.read(), grad: await x.grad!.read() };
      });
      expectClose(y, refAvgPool(xs, shape, k), { rtol: 1e-6 }, 'avgPool2d forward');
      const expected = new Float64Array(size);
      for (let p = 0; p < n * c; p++) {
        for (let r = 0; r < oh * k; r++) {
          for (let q = 0; q < ow * k; q++) expected[p * h * w + r * w + q] = weights[(p * oh + Math.floor(r / k)) * ow + Math.floor(q / k)] / (k * k);
        }
      }
      expectClose(grad, expected, { rtol: 1e-6 }, 'avgPool2d gradient');
    });
  }

  it('rejects bad shapes and kernels', () => {
    tidy(() => {
      expect(() => avgPool2d(tensor([1, 2, 3, 4], [2, 2]), 2)).toThrow(/avgPool2d: expected an NCHW input, got shape \[2, 2\]/);
      expect(() => avgPool2d(tensor(new Float32Array(4), [1, 1, 2, 2]), 3)).toThrow(/smaller than the 3×3 window/);
      expect(() => avgPool2d(tensor(new Float32Array(4), [1, 1, 2, 2]), 0)).toThrow(/positive integer/);
    });
  });
});

describe('batchNormInference / nn.BatchNorm2d', () => {
  it('matches (x − mean)/√(var + eps)·weight + bias per channel', async () => {
    const rng = makeRng(5);
    const [n, c, h, w] = [2, 5, 3, 4];
    const x = normal(rng, n * c * h * w);
    const mean = normal(rng, c, 0.3);
    const variance = uniform(rng, c, 0.2, 2);
    const weight = uniform(rng, c, 0.5, 1.5);
    const bias = normal(rng, c, 0.2);
    const eps = 1e-5;
    const y = await tidy(async () => {
      const out = batchNormInference(tensor(x, [n, c, h, w]), {
        runningMean: tensor(mean, [c]),
        runningVar: tensor(variance, [c]),
        weight: tensor(weight, [c]),
        bias: tensor(bias, [c]),
        eps,
      });
      return out.read();
    });
    const expected = Float64Array.from(x, (v, i) => {
      const ch = Math.floor(i / (h * w)) % c;
      return ((v - mean[ch]) / Math.sqrt(variance[ch] + eps)) * weight[ch] + bias[ch];
    });
    expectClose(y, expected, { rtol: 1e-5, atol: 1e-6 }, 'batchNorm');
  });

  it('BatchNorm2d has PyTorch state-dict names, loads num_batches_tracked, and refuses training mode', async () => {
    const bn = new nn.BatchNorm2d(3);
    expect([...bn.stateDict().keys()].sort()).toEqual(['bias', 'num_batches_tracked', 'running_mean', 'running_var', 'weight']);
    bn.loadStateDict(
      new Map([
        ['weight', { shape: [3], data: new Float32Array([1, 2, 3]) }],
        ['bias', { shape: [3], data: new Float32Array([0, 1, 0]) }],
        ['running_mean', { shape: [3], data: new Float32Array([1, 1, 1]) }],
        ['running_var', { shape: [3], data: new Float32Array([4, 4, 4]) }],
        ['num_batches_tracked', { shape: [], data: new Int32Array([7]) }],
      ]),
    );
    const x = tensor([3, 3, 3], [1, 3, 1, 1]);
    expect(() => bn.forward(x)).toThrow(/BatchNorm2d: training-mode batch statistics are not implemented; call \.eval\(\)/);
    bn.eval();
    const y = bn.forward(x);
    const s = 2 / Math.sqrt(4 + 1e-5); // (3 − 1)/√(var + eps)
    expectClose(await y.read(), [s * 1 + 0, s * 2 + 1, s * 3 + 0], { rtol: 1e-5 }, 'BatchNorm2d');
    for (const t of [x, y, ...bn.stateDict().values()]) t.dispose();
  });

  it('names the mismatch', () => {
    tidy(() => {
      expect(() => batchNormInference(tensor(new Float32Array(8), [1, 2, 2, 2]), { runningMean: tensor([0, 0, 0]), runningVar: tensor([1, 1]) })).toThrow(
        /batchNorm: running_mean \[3\] does not match the 2 channels of input \[1, 2, 2, 2\]/,
      );
    });
  });
});
