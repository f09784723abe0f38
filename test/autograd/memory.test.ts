// Memory stays exactly flat over many training steps: every step runs in a tidy scope, and the only
// long-lived allocations (parameters, gradients while they exist, optimizer and EMA state) are made
// in the first step.
import { describe, expect, it } from 'vitest';
import { manualSeed, memory, optim } from '@sd/autograd';
import { DeviceArray } from '@sd/kernels';
import { charData, disposeModule, TinyTransformer, trainStep } from '../util/tiny-models.ts';

describe('memory', () => {
  it('liveBytes and live arrays are exactly flat across 200 transformer training steps after the first', async () => {
    const liveAtStart = DeviceArray.live;
    manualSeed(0);
    const data = charData('memory must not grow, step after step');
    const model = new TinyTransformer({ vocab: data.vocab, context: 40, dim: 16, heads: 2, layers: 2 });
    const opt = new optim.AdamW(model.parameters(), { lr: 1e-3 });
    const ema = new optim.EMA(model.parameters(), { decay: 0.99 });

    const first = trainStep(model, opt, data.ids, data.targets, { maxGradNorm: 1 });
    ema.update();
    const firstLoss = await first.item();
    first.dispose();
    const bytes = memory().liveBytes;
    const arrays = DeviceArray.live;
    let lastLoss = firstLoss;
    for (let step = 1; step <= 200; step++) {
      const loss = trainStep(model, opt, data.ids, data.targets, { maxGradNorm: 1 });
      ema.update();
      if (step % 50 === 0) {
        lastLoss = await loss.item();
        loss.dispose();
        expect(memory().liveBytes, `liveBytes after step ${step}`).toBe(bytes);
        expect(DeviceArray.live, `live arrays after step ${step}`).toBe(arrays);
      } else loss.dispose();
    }
    expect(lastLoss).toBeLessThan(firstLoss); // it did train
    expect(memory().peakBytes).toBeGreaterThanOrEqual(bytes);

    ema.dispose();
    opt.dispose();
    disposeModule(model);
    data.ids.dispose();
    data.targets.dispose();
    expect(DeviceArray.live).toBe(liveAtStart);
  });
});
