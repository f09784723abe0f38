// Recorded steps (record / replay) against eager execution, bit for bit: two copies of a model
// trained side by side, one eagerly and one by replaying a recording of its step, with new inputs
// written each step, AdamW with a warm-up schedule and clipping, and an EMA (whose host state must
// advance at every replay). Then everything a replay cannot redo must be refused, naming the cause.
import { describe, expect, it } from 'vitest';
import { dropout, Generator, manualSeed, mul, optim, rand, randn, record, tensor, type Tensor } from '@sd/autograd';
import * as K from '@sd/kernels';
import { DeviceArray } from '@sd/kernels';
import { charData, disposeModule, TinyConvNet, TinyTransformer, trainStep } from '../util/tiny-models.ts';
import { makeRng, uniform } from '../util/random.ts';

const bits = async (t: Tensor | DeviceArray) => Array.from(new Uint32Array((await t.read()).buffer.slice(0)));

interface Setup {
  model: TinyConvNet | TinyTransformer;
  opt: optim.AdamW;
  ema: optim.EMA;
  input: Tensor;
  targets: Tensor;
  /** New input data for step k (the same for both copies). */
  nextInput(k: number): ArrayLike<number> | null;
}

function convSetup(): Setup {
  manualSeed(7);
  const model = new TinyConvNet(3, 8);
  const opt = new optim.AdamW(model.parameters(), { lr: 3e-3 });
  opt.schedule = optim.linearWarmup(3);
  const input = tensor(new Float32Array(4 * 3 * 16 * 16), [4, 3, 16, 16]).keep();
  const targets = tensor([0, 3, 5, 7], [4], { dtype: 'i32' }).keep();
  return { model, opt, ema: new optim.EMA(model.parameters()), input, targets, nextInput: (k) => uniform(makeRng(100 + k), 4 * 3 * 16 * 16, -1, 1) };
}

function transformerSetup(): Setup {
  manualSeed(8);
  const data = charData('the quick brown fox jumps over the lazy dog.');
  const model = new TinyTransformer({ vocab: data.vocab, context: 64, dim: 32, heads: 2, layers: 2 });
  const opt = new optim.AdamW(model.parameters(), { lr: 3e-3 });
  opt.schedule = optim.linearWarmup(3);
  return { model, opt, ema: new optim.EMA(model.parameters()), input: data.ids, targets: data.targets, nextInput: () => null };
}

function dispose(s: Setup): void {
  s.opt.dispose();
  s.ema.dispose();
  disposeModule(s.model);
  s.input.dispose();
  s.targets.dispose();
}

const STEPS = 6;

describe('record / replay', () => {
  for (const [name, make] of [['tiny conv net, new images each step', convSetup], ['tiny transformer (attention, layer norm)', transformerSetup]] as const) {
    it(`${name}: replayed steps give the bits of eager steps (loss, parameters, EMA, step count)`, async () => {
      const step = (s: Setup) => {
        const loss = trainStep(s.model, s.opt, s.input, s.targets, { maxGradNorm: 0.5 });
        s.ema.update();
        return loss;
      };
      const eager = make();
      const eagerLosses: number[][] = [];
      for (let k = 0; k < STEPS; k++) {
        const x = eager.nextInput(k);
        if (x) eager.input.write(x);
        const loss = step(eager);
        eagerLosses.push(await bits(loss));
        loss.dispose();
      }

      const replayed = make();
      const losses: number[][] = [];
      const first = replayed.nextInput(0);
      if (first) replayed.input.write(first);
      const warm = step(replayed); // creates the optimizer state, which a recording may not
      losses.push(await bits(warm));
      warm.dispose();
      const second = replayed.nextInput(1);
      if (second) replayed.input.write(second);
      const recorded = record(() => step(replayed));
      losses.push(await bits(recorded.results));
      for (let k = 2; k < STEPS; k++) {
        const x = replayed.nextInput(k);
        if (x) replayed.input.write(x);
        losses.push(await bits(recorded.run()));
      }
      expect(losses).toEqual(eagerLosses);
      expect(replayed.opt.step).toBe(STEPS);
      expect(replayed.ema.optimizationStep).toBe(STEPS);
      const params = replayed.model.parameters();
      for (const [i, p] of eager.model.parameters().entries()) {
        expect(await bits(params[i])).toEqual(await bits(p));
        expect(await bits(replayed.ema.shadow[i])).toEqual(await bits(eager.ema.shadow[i]));
      }
      expect(recorded.dispatches).toBeGreaterThan(20);
      recorded.dispose();
      dispose(eager);
      dispose(replayed);
    });
  }

  it('random draws in a recorded step continue the generator at every replay, as eager draws do (randn, rand, dropout)', async () => {
    const ones = tensor(new Float32Array(40).fill(1), [5, 8]).keep();
    const draws = (g: Generator) => [randn([3, 5], { generator: g }), rand([7], { generator: g, low: -1, high: 2 }), dropout(ones, 0.5, true, g)];
    const eagerGen = new Generator(5, 3);
    const eager: number[][][] = [];
    for (let k = 0; k < 4; k++) {
      const out = draws(eagerGen);
      eager.push(await Promise.all(out.map(bits)));
      for (const t of out) t.dispose();
    }
    const replayGen = new Generator(5, 3);
    const recorded = record(() => draws(replayGen));
    const got = [await Promise.all(recorded.results.map(bits))];
    for (let k = 1; k < 4; k++) got.push(await Promise.all(recorded.run().map(bits)));
    expect(got).toEqual(eager);
    expect(replayGen.offset).toBe(eagerGen.offset);
    recorded.dispose();
    ones.dispose();
  });

  it('replays reuse the same memory: no growth over 30 runs, and dispose returns it', async () => {
    const s = convSetup();
    const step = () => trainStep(s.model, s.opt, s.input, s.targets);
    step().dispose();
    await K.rt().sync();
    const before = { live: K.rt().pool.liveBytes, arrays: DeviceArray.live };
    const recorded = record(step);
    const afterRecord = { live: K.rt().pool.liveBytes, arrays: DeviceArray.live };
    for (let k = 0; k < 30; k++) recorded.run();
    await K.rt().sync();
    expect({ live: K.rt().pool.liveBytes, arrays: DeviceArray.live }).toEqual(afterRecord);
    recorded.dispose();
    expect({ live: K.rt().pool.liveBytes, arrays: DeviceArray.live }).toEqual(before);
    dispose(s);
  });

  it('verify() passes for an unchanged step and names the first command that changed otherwise', async () => {
    const x = tensor([1, 2, 3, 4], [4]).keep();
    let factor = 2;
    const recorded = record(() => mul(x, factor));
    expect(Array.from(await recorded.run().read())).toEqual([2, 4, 6, 8]);
    const same = recorded.verify();
    expect(Array.from(await same.read())).toEqual([2, 4, 6, 8]);
    same.dispose();
    factor = 3; // a constant baked into the recorded kernel's parameters
    expect(() => recorded.verify()).toThrow(/no longer issues what was recorded \(command \d+ of \d+ recorded: mul .* now: mul/);
    recorded.dispose();
    x.dispose();
  });

  it('refuses what a replay cannot redo: state created inside, host reads, SGD, async steps, freed inputs, allocating callbacks', async () => {
    const s = convSetup();
    // The first step creates AdamW's flat moment buffers: recording it would re-zero them at every replay.
    expect(() => record(() => trainStep(s.model, s.opt, s.input, s.targets))).toThrow(/outlive it .*run the step once before recording it/);
    expect(K.rt().recording).toBe(false);

    const sgd = new optim.SGD(s.model.parameters(), { lr: 0.1, momentum: 0.9 });
    trainStep(s.model, sgd, s.input, s.targets).dispose();
    expect(() => record(() => trainStep(s.model, sgd, s.input, s.targets))).toThrow(/SGD: .*use AdamW in recorded steps/);
    sgd.dispose();

    expect(() => record(async () => 1)).toThrow(/must be synchronous/);

    K.rt().beginCapture();
    await expect(s.input.read()).rejects.toThrow(/host read .* inside a recorded step/);
    K.rt().abandonCapture();

    expect(() => K.rt().perRun(() => void DeviceArray.empty([4], 'f32', 'scratch'))).toThrow(/scratch: a perRun callback may only upload/);

    const input = tensor([1, 2], [2]).keep();
    const recorded = record(() => mul(input, 2));
    input.dispose();
    expect(() => recorded.run()).toThrow(/was freed after recording .* record the step again/);
    recorded.dispose();
    dispose(s);
  });
});
