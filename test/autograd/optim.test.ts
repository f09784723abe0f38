// Optimizer classes against float64 CPU implementations of PyTorch's update rules over several
// steps: AdamW and SGD (momentum, nesterov, dampening, weight decay), schedules, gradScale, global
// norm clipping, per-parameter step counts, state-dict round trips, and diffusers' EMA.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, optim, saveCheckpoint, tensor, type Tensor } from '@sd/autograd';
import { DeviceArray } from '@sd/kernels';
import { expectClose } from '../util/close.ts';
import { makeRng, uniform } from '../util/random.ts';

const dir = mkdtempSync(join(tmpdir(), 'optim-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SHAPES = [[3, 4], [5], [1], [2, 3, 2]];

interface StepPlan {
  /** Per-parameter gradients (null: the parameter has no gradient this step). */
  grads: (Float32Array | null)[];
  gradScale?: number;
  maxGradNorm?: number;
}

/** Gradients as the optimizer sees them: scaled, then clipped by the global norm (PyTorch's clip_grad_norm_). */
function effectiveGrads(plan: StepPlan): (Float64Array | null)[] {
  const scale = plan.gradScale ?? 1;
  const gs = plan.grads.map((g) => g && Float64Array.from(g, (v) => v * scale));
  if (plan.maxGradNorm !== undefined) {
    let sq = 0;
    for (const g of gs) if (g) for (const v of g) sq += v * v;
    const coef = Math.min(1, plan.maxGradNorm / (Math.sqrt(sq) + 1e-6));
    for (const g of gs) if (g) g.forEach((v, i) => (g[i] = v * coef));
  }
  return gs;
}

interface RefOptimizer {
  step(params: Float64Array[], plan: StepPlan): void;
}

/** torch.optim.AdamW, per-parameter step counts, in float64. */
class RefAdamW implements RefOptimizer {
  private m: Float64Array[] = [];
  private v: Float64Array[] = [];
  private t: number[] = [];
  private n = 0;
  constructor(
    private lr: number,
    private b1: number,
    private b2: number,
    private eps: number,
    private wd: number,
    private schedule: (step: number) => number = () => 1,
  ) {}
  step(params: Float64Array[], plan: StepPlan): void {
    const lr = this.lr * this.schedule(this.n++);
    effectiveGrads(plan).forEach((g, k) => {
      if (!g) return;
      const p = params[k];
      this.m[k] ??= new Float64Array(p.length);
      this.v[k] ??= new Float64Array(p.length);
      const t = (this.t[k] = (this.t[k] ?? 0) + 1);
      const bc1 = 1 - this.b1 ** t;
      const bc2 = 1 - this.b2 ** t;
      for (let i = 0; i < p.length; i++) {
        p[i] *= 1 - lr * this.wd;
        this.m[k][i] = this.b1 * this.m[k][i] + (1 - this.b1) * g[i];
        this.v[k][i] = this.b2 * this.v[k][i] + (1 - this.b2) * g[i] * g[i];
        p[i] -= (lr / bc1) * (this.m[k][i] / (Math.sqrt(this.v[k][i]) / Math.sqrt(bc2) + this.eps));
      }
    });
  }
}

/** torch.optim.SGD in float64: the momentum buffer starts as the first gradient. */
class RefSGD implements RefOptimizer {
  private buf: (Float64Array | undefined)[] = [];
  private n = 0;
  constructor(
    private lr: number,
    private cfg: { momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean },
    private schedule: (step: number) => number = () => 1,
  ) {}
  step(params: Float64Array[], plan: StepPlan): void {
    const lr = this.lr * this.schedule(this.n++);
    const { momentum = 0, dampening = 0, weightDecay = 0, nesterov = false } = this.cfg;
    effectiveGrads(plan).forEach((g, k) => {
      if (!g) return;
      const p = params[k];
      const d = Float64Array.from(g, (v, i) => v + weightDecay * p[i]);
      if (momentum !== 0) {
        const b = this.buf[k];
        if (!b) this.buf[k] = Float64Array.from(d);
        else b.forEach((v, i) => (b[i] = momentum * v + (1 - dampening) * d[i]));
        const buf = this.buf[k]!;
        if (nesterov) d.forEach((v, i) => (d[i] = v + momentum * buf[i]));
        else d.set(buf);
      }
      for (let i = 0; i < p.length; i++) p[i] -= lr * d[i];
    });
  }
}

function makePlans(seed: number, steps: number, extra: (s: number) => Partial<StepPlan> = () => ({})): StepPlan[] {
  const rng = makeRng(seed);
  return Array.from({ length: steps }, (_, s) => ({
    grads: SHAPES.map((shape) => uniform(rng, shape.reduce((a, b) => a * b, 1), -1, 1)),
    ...extra(s),
  }));
}

function makeParams(seed: number): { host: Float64Array[]; device: Tensor[] } {
  const rng = makeRng(seed);
  const values = SHAPES.map((s) => uniform(rng, s.reduce((a, b) => a * b, 1), -1, 1));
  return {
    host: values.map((v) => Float64Array.from(v)),
    device: values.map((v, i) => tensor(v, SHAPES[i], { requiresGrad: true }).keep()),
  };
}

/** One optimizer step on the device: set `.grad`, update, clear. */
function deviceStep(opt: optim.Optimizer, params: Tensor[], plan: StepPlan): void {
  params.forEach((p, i) => {
    const g = plan.grads[i];
    p.grad = g ? tensor(g, SHAPES[i]).keep() : null;
  });
  opt.update({ gradScale: plan.gradScale, maxGradNorm: plan.maxGradNorm });
  opt.zeroGrad();
}

async function expectParams(device: Tensor[], host: Float64Array[], what: string, tol = { rtol: 2e-5, atol: 2e-6 }): Promise<void> {
  for (let i = 0; i < device.length; i++) expectClose(await device[i].read(), host[i], tol, `${what}: param ${i}`);
}

describe('schedules', () => {
  it('linear warmup and warmup-cosine give the documented multipliers', () => {
    const warm = optim.linearWarmup(4);
    expect([0, 1, 2, 3, 4, 100].map(warm)).toEqual([0.25, 0.5, 0.75, 1, 1, 1]);
    expect(optim.linearWarmup(0)(0)).toBe(1);
    const cos = optim.warmupCosine(2, 10, 0.1);
    expect(cos(0)).toBeCloseTo(0.5, 12);
    expect(cos(1)).toBeCloseTo(1, 12);
    expect(cos(2)).toBeCloseTo(1, 12); // decay starts after the warmup
    expect(cos(6)).toBeCloseTo(0.1 + 0.9 * 0.5, 12); // half way: cos(π/2) = 0
    expect(cos(10)).toBeCloseTo(0.1, 12);
    expect(cos(50)).toBeCloseTo(0.1, 12); // stays at the floor
    expect(optim.constant()(7)).toBe(1);
    // Warmup 2, constant, decay over the last 4 of 10 steps: 1, 3/4, 2/4, 1/4, then 0.
    const wsd = optim.warmupStableDecay(2, 10, 4);
    expect([0, 1, 2, 5, 6, 7, 8, 9, 10].map(wsd)).toEqual([0.5, 1, 1, 1, 1, 0.75, 0.5, 0.25, 0]);
    // Extending the run moves only the decay: the first steps are unchanged.
    const longer = optim.warmupStableDecay(2, 14, 4);
    expect([0, 1, 5, 9].map(longer)).toEqual([0.5, 1, 1, 1]);
    expect(optim.warmupStableDecay(3, 10, 0)(9)).toBe(1);
  });
});

describe('AdamW', () => {
  it('matches float64 PyTorch AdamW with a warmup-cosine schedule, gradScale, clipping and skipped parameters', async () => {
    const { host, device } = makeParams(1);
    const schedule = optim.warmupCosine(2, 8, 0.1);
    const opt = new optim.AdamW(device, { lr: 0.05, betas: [0.9, 0.99], eps: 1e-6, weightDecay: 0.1 });
    opt.schedule = schedule;
    const ref = new RefAdamW(0.05, 0.9, 0.99, 1e-6, 0.1, schedule);
    const plans = makePlans(2, 8, (s) => ({
      gradScale: s % 3 === 1 ? 0.25 : undefined,
      // Clipping active (norm ≈ 4 > 1) on some steps, inactive (100) on others.
      maxGradNorm: s % 2 === 0 ? 1 : s === 5 ? 100 : undefined,
    }));
    plans[2].grads[1] = null; // parameter 1 skips steps 3 and 4: its own step count falls behind
    plans[3].grads[1] = null;
    for (const [s, plan] of plans.entries()) {
      expect(opt.currentLr()).toBeCloseTo(0.05 * schedule(s), 12);
      deviceStep(opt, device, plan);
      ref.step(host, plan);
      await expectParams(device, host, `AdamW step ${s + 1}`);
    }
    expect(opt.step).toBe(8);
    opt.dispose();
    device.forEach((p) => p.dispose());
  });

  it('uses PyTorch defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01)', async () => {
    const { host, device } = makeParams(3);
    const opt = new optim.AdamW(device);
    const ref = new RefAdamW(1e-3, 0.9, 0.999, 1e-8, 0.01);
    for (const plan of makePlans(4, 3)) {
      deviceStep(opt, device, plan);
      ref.step(host, plan);
    }
    await expectParams(device, host, 'AdamW defaults');
    opt.dispose();
    device.forEach((p) => p.dispose());
  });
});

describe('SGD', () => {
  const configs = [
    { lr: 0.1 },
    { lr: 0.1, weightDecay: 0.05 },
    { lr: 0.05, momentum: 0.9 },
    { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 },
    { lr: 0.05, momentum: 0.8, dampening: 0.3 },
  ];
  for (const cfg of configs) {
    it(`matches float64 torch.optim.SGD ${JSON.stringify(cfg)} with a linear warmup, clipping and a late-starting parameter`, async () => {
      const { host, device } = makeParams(5);
      const schedule = optim.linearWarmup(3);
      const opt = new optim.SGD(device, cfg);
      opt.schedule = schedule;
      const ref = new RefSGD(cfg.lr, cfg, schedule);
      const plans = makePlans(6, 6, (s) => ({ maxGradNorm: s === 4 ? 0.5 : undefined, gradScale: s === 2 ? 2 : undefined }));
      plans[0].grads[2] = null; // parameter 2's momentum buffer starts at step 2, as its first gradient
      for (const [s, plan] of plans.entries()) {
        deviceStep(opt, device, plan);
        ref.step(host, plan);
        await expectParams(device, host, `SGD step ${s + 1}`);
      }
      opt.dispose();
      device.forEach((p) => p.dispose());
    });
  }

  it('rejects nesterov without momentum, and parameters without requiresGrad', () => {
    const p = tensor([1], [1], { requiresGrad: true }).keep();
    p.grad = tensor([1], [1]).keep();
    const opt = new optim.SGD([p], { lr: 0.1, nesterov: true });
    expect(() => opt.update()).toThrow(/nesterov/);
    expect(() => new optim.SGD([tensor([1], [1]).keep()])).toThrow(/does not require grad/);
    p.dispose();
  });
});

describe('optimizer state dicts', () => {
  const cases: [string, (ps: Tensor[]) => optim.Optimizer][] = [
    ['AdamW', (ps) => new optim.AdamW(ps, { lr: 0.02, weightDecay: 0.05 })],
    ['SGD', (ps) => new optim.SGD(ps, { lr: 0.05, momentum: 0.9, nesterov: true })],
  ];
  for (const [name, make] of cases) {
    it(`${name}: save, load into a fresh optimizer, and both continue identically`, async () => {
      const plans = makePlans(8, 6, () => ({ maxGradNorm: 1 }));
      plans[1].grads[3] = null;
      const a = makeParams(7);
      const optA = make(a.device);
      optA.schedule = optim.warmupCosine(1, 6);
      for (const plan of plans.slice(0, 3)) deviceStep(optA, a.device, plan);

      const path = join(dir, `${name}.safetensors`);
      const model = new Map(a.device.map((p, i) => [`p${i}`, p]));
      await saveCheckpoint(path, { model, optim: optA.stateDict() }, { note: name });
      const live = DeviceArray.live;
      optA.stateDict(); // a second call reuses its step tensors: nothing new stays alive
      expect(DeviceArray.live).toBe(live);

      const ckpt = loadCheckpoint(path);
      expect(ckpt.metadata.note).toBe(name);
      expect(Array.from(ckpt.groups.optim.get('step')!.data)).toEqual([3]);
      expect(Array.from(ckpt.groups.optim.get('param_steps')!.data)).toEqual([3, 3, 3, 2]);
      const b = makeParams(99);
      b.device.forEach((p, i) => p.assign(DeviceArray.from(ckpt.groups.model.get(`p${i}`)!.data, SHAPES[i])));
      const optB = make(b.device);
      optB.schedule = optim.warmupCosine(1, 6);
      optB.loadStateDict(ckpt.groups.optim);
      expect(optB.step).toBe(3);

      for (const plan of plans.slice(3)) {
        deviceStep(optA, a.device, plan);
        deviceStep(optB, b.device, plan);
      }
      for (let i = 0; i < SHAPES.length; i++) expect(Array.from(await b.device[i].read())).toEqual(Array.from(await a.device[i].read()));
      for (const o of [optA, optB]) o.dispose();
      for (const p of [...a.device, ...b.device]) p.dispose();
    });
  }

  it('loading checks names and shapes, and accepts old checkpoints without param_steps', () => {
    const { device } = makeParams(9);
    const opt = new optim.AdamW(device);
    const state = new Map<string, { shape: number[]; data: Float32Array }>([['step', { shape: [1], data: new Float32Array([4]) }]]);
    expect(() => opt.loadStateDict(state)).toThrow('optimizer state: "0.exp_avg" is missing');
    SHAPES.forEach((s, i) => {
      const n = s.reduce((a, b) => a * b, 1);
      state.set(`${i}.exp_avg`, { shape: s, data: new Float32Array(n) });
      state.set(`${i}.exp_avg_sq`, { shape: i === 2 ? [2] : s, data: new Float32Array(i === 2 ? 2 : n) });
    });
    expect(() => opt.loadStateDict(state)).toThrow('optimizer state: "2.exp_avg_sq" has shape [2], parameter has [1]');
    state.set('2.exp_avg_sq', { shape: [1], data: new Float32Array(1) });
    opt.loadStateDict(state);
    expect(opt.step).toBe(4);
    opt.dispose();
    device.forEach((p) => p.dispose());
  });
});

/** diffusers EMAModel.get_decay, transcribed. */
function diffusersDecay(optimizationStep: number, c: { decay?: number; minDecay?: number; updateAfterStep?: number; useWarmup?: boolean; invGamma?: number; power?: number }): number {
  const step = Math.max(0, optimizationStep - (c.updateAfterStep ?? 0) - 1);
  if (step <= 0) return 0;
  const value = c.useWarmup ? 1 - (1 + step / (c.invGamma ?? 1)) ** -(c.power ?? 2 / 3) : (1 + step) / (10 + step);
  return Math.max(Math.min(value, c.decay ?? 0.9999), c.minDecay ?? 0);
}

describe('EMA', () => {
  const configs = [
    {},
    { decay: 0.5 },
    { decay: 0.999, updateAfterStep: 3 },
    { useWarmup: true, power: 3 / 4, invGamma: 2 },
    { minDecay: 0.6, decay: 0.95 },
  ];
  it('follows diffusers EMAModel.get_decay', () => {
    for (const c of configs) {
      const ema = new optim.EMA([], c);
      for (const step of [0, 1, 2, 3, 4, 5, 10, 100, 1e5]) expect(ema.decay(step), `${JSON.stringify(c)} step ${step}`).toBeCloseTo(diffusersDecay(step, c), 14);
    }
  });

  it('tracks the parameters over optimizer steps like diffusers (shadow −= (1 − decay)(shadow − param)), and copyTo', async () => {
    for (const c of configs) {
      const { host, device } = makeParams(11);
      const opt = new optim.SGD(device, { lr: 0.1, momentum: 0.5 });
      const ref = new RefSGD(0.1, { momentum: 0.5 });
      const ema = new optim.EMA(device, c);
      const shadow = host.map((p) => Float64Array.from(p));
      for (const [s, plan] of makePlans(12, 7).entries()) {
        deviceStep(opt, device, plan);
        ema.update();
        ref.step(host, plan);
        const d = diffusersDecay(s + 1, c);
        shadow.forEach((sh, k) => sh.forEach((v, i) => (sh[i] = v - (1 - d) * (v - host[k][i]))));
      }
      expect(ema.optimizationStep).toBe(7);
      for (let k = 0; k < shadow.length; k++) expectClose(await ema.shadow[k].read(), shadow[k], { rtol: 2e-5, atol: 2e-6 }, `EMA ${JSON.stringify(c)} param ${k}`);
      ema.copyTo();
      for (let k = 0; k < shadow.length; k++) expect(Array.from(await device[k].read())).toEqual(Array.from(await ema.shadow[k].read()));
      ema.dispose();
      opt.dispose();
      device.forEach((p) => p.dispose());
    }
  });
});
