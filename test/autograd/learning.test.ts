// End-to-end learning with fixed seeds: an MLP separates two spirals, a small pre-LN transformer
// memorises a string, and a small conv net with GroupNorm memorises 8 images.
import { describe, expect, it } from 'vitest';
import { argmax, crossEntropy, manualSeed, nn, noGrad, optim, randn, tensor, tidy, type Tensor } from '@sd/autograd';
import { charData, disposeModule, TinyConvNet, TinyTransformer, trainStep } from '../util/tiny-models.ts';

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
      if (step % syncEvery === syncEvery - 1) loss = await l.item();
      l.dispose();
    }
    const acc = await tidy(() => accuracy(model.forward(x), labels));
    console.log(`spirals: loss ${loss.toFixed(4)}, accuracy ${(acc * 100).toFixed(1)}%, ${((performance.now() - started) / 1000).toFixed(1)} s`);
    expect(acc).toBeGreaterThanOrEqual(0.99);
    expect(loss).toBeLessThan(0.01);
    for (const t of [x, y, ...model.parameters()]) t.dispose();
    opt.dispose();
  });

  it('a 2-layer pre-LN transformer memorises a 32-character string (next-char cross-entropy < 0.05)', async () => {
    manualSeed(1);
    const text = 'autograd: overfit this string!!?';
    const data = charData(`${text}\n`);
    expect(data.ids.shape).toEqual([1, 32]);
    const model = new TinyTransformer({ vocab: data.vocab, context: 32, dim: 32, heads: 2, layers: 2 });
    const opt = new optim.AdamW(model.parameters(), { lr: 1e-2, weightDecay: 0 });
    const started = performance.now();
    let loss = Infinity;
    for (let step = 0; step < STEPS.transformer; step++) {
      const l = trainStep(model, opt, data.ids, data.targets, { maxGradNorm: 1 });
      // Reading the loss now and then also returns to the event loop, which Dawn needs (see syncEvery).
      if (step % syncEvery === syncEvery - 1 || step === STEPS.transformer - 1) loss = await l.item();
      l.dispose();
    }
    model.eval();
    const targets = (await data.targets.read()) as Int32Array;
    const acc = await tidy(() => noGrad(() => accuracy(model.forward(data.ids).reshape([32, data.vocab]), targets)));
    console.log(`transformer: loss ${loss.toFixed(4)}, accuracy ${(acc * 100).toFixed(1)}%, ${((performance.now() - started) / 1000).toFixed(1)} s`);
    expect(loss).toBeLessThan(0.05);
    expect(acc).toBe(1);
    opt.dispose();
    disposeModule(model);
    data.ids.dispose();
    data.targets.dispose();
  });

  it('a small conv net with GroupNorm memorises 8 random images (100%, loss < 0.05)', async () => {
    manualSeed(2);
    const images = randn([8, 3, 8, 8]).keep();
    const labelValues = Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
    const labels = tensor(labelValues, [8], { dtype: 'i32' }).keep();
    const model = new TinyConvNet(3, 8);
    const opt = new optim.AdamW(model.parameters(), { lr: 1e-2, weightDecay: 0 });
    const started = performance.now();
    let loss = Infinity;
    for (let step = 0; step < STEPS.conv; step++) {
      const l = trainStep(model, opt, images, labels);
      if (step % syncEvery === syncEvery - 1 || step === STEPS.conv - 1) loss = await l.item();
      l.dispose();
    }
    const acc = await tidy(() => noGrad(() => accuracy(model.forward(images), labelValues)));
    console.log(`conv net: loss ${loss.toFixed(4)}, accuracy ${(acc * 100).toFixed(1)}%, ${((performance.now() - started) / 1000).toFixed(1)} s`);
    expect(acc).toBe(1);
    expect(loss).toBeLessThan(0.05);
    opt.dispose();
    disposeModule(model);
    images.dispose();
    labels.dispose();
  });
});

const STEPS = { transformer: 80, conv: 60 };
/**
 * Steps between awaits. Encoding tens of thousands of dispatches without ever returning to the event
 * loop crashes the process (SIGSEGV inside Dawn on lavapipe, seen at ~60k dispatches), so training
 * loops should await something (a loss readback, `rt().sync()`) every few dozen steps.
 */
const syncEvery = 20;
