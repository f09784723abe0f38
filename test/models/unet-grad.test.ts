// Gradients of the diffusers-exact UNet modules (GPU autograd, f32) against central differences of an
// independent float64 CPU reference (test/util/ref/unet.ts), for L = Σ w ⊙ output with fixed random w:
//  - the reference itself reproduces diffusers' golden outputs (unet-sd2-tiny, unet-sd1-tiny, unet-emb-tiny);
//  - ResnetBlock2D (32 → 64 channels, conv_shortcut, 8 groups, time embedding);
//  - Transformer2DModel with Linear and with 1×1-conv projections, cross-attention context;
//  - the whole tiny SD2-style UNet on an 8×8 latent: sample, encoder_hidden_states and parameters
//    from conv_in to conv_out.
// Each check includes the coordinate of largest |gradient| of its tensor plus seeded random ones; the
// tolerance is |g − g_fd| ≤ RTOL·|g_fd| + ATOL_FRAC·max|g_fd| (max over the checked coordinates of that
// tensor), so a gradient off by 5% or with a flipped sign fails at the largest coordinate.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeviceArray } from '@sd/kernels';
import { tensor, tidy, type nn, type Tensor } from '@sd/autograd';
import { readSafetensors } from '@sd/io';
import { ResnetBlock2D } from '../../packages/models/src/unet/resnet.ts';
import { Transformer2DModel } from '../../packages/models/src/unet/transformer.ts';
import { unetFromConfig } from '../../packages/models/src/unet/model.ts';
import { conv2d, refResnetBlock2D, refTransformer2D, refUNet2DCondition, toFloat64Weights, type Arr } from '../util/ref/unet.ts';
import { refConv2d } from '../util/ref/conv.ts';
import { expectClose } from '../util/close.ts';
import { makeRng, uniform, type Rng } from '../util/random.ts';
import { GOLDEN } from '../util/decoder-golden.ts';


/**
 * Observed on lavapipe: |g − g_fd| ≤ 2e-6·max|g_fd| and ≤ 7e-5·|g_fd| at every checked coordinate, so these
 * leave ≥ 25× margin for f32 rounding on other devices, while ×1.05, or a sign flip of either the largest
 * or a random coordinate, fails in every checked tensor (tried once, not kept).
 */
const RTOL = 2e-3;
const ATOL_FRAC = 2e-4;
/** Absolute finite-difference step (inputs are O(1), weights O(0.1)); f64 makes O(h²) ≈ 1e-8 the error. */
const STEP = 1e-4;

type F64Map = Map<string, { shape: number[]; data: Float64Array }>;

const arr = (data: ArrayLike<number>, shape: number[]): Arr => ({ data: Float64Array.from(data), shape });
const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** One tensor's gradient check: autograd's gradient, the f64 array the reference reads, coordinates. */
interface Probe {
  what: string;
  gpu: Float32Array;
  ref: Float64Array;
  indices: number[];
}

/** The coordinate of largest |g| plus `count` distinct seeded random ones. */
function pickIndices(rng: Rng, g: Float32Array, count: number): number[] {
  let best = 0;
  for (let i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[best])) best = i;
  const set = new Set([best]);
  while (set.size < Math.min(count + 1, g.length)) set.add(Math.floor(rng() * g.length));
  return [...set];
}

/** Central differences of the f64 loss at every probed coordinate; returns the failures (empty: pass). */
function finiteDifferenceFailures(loss: () => number, probes: Probe[]): string[] {
  const failures: string[] = [];
  for (const p of probes) {
    const fd = p.indices.map((i) => {
      const v = p.ref[i];
      p.ref[i] = v + STEP;
      const up = loss();
      p.ref[i] = v - STEP;
      const down = loss();
      p.ref[i] = v;
      return (up - down) / (2 * STEP);
    });
    const scale = Math.max(...fd.map(Math.abs));
    if (!(scale > 0)) failures.push(`${p.what}: all finite differences are 0`);
    p.indices.forEach((i, k) => {
      const err = Math.abs(p.gpu[i] - fd[k]);
      if (!(err <= RTOL * Math.abs(fd[k]) + ATOL_FRAC * scale))
        failures.push(`${p.what}[${i}]: autograd ${p.gpu[i]}, finite difference ${fd[k]} (err ${err.toExponential(2)}, scale ${scale.toExponential(2)})`);
    });
  }
  return failures;
}

/** L = Σ w ⊙ y in float64. */
const weightedSum = (w: Float32Array, y: Arr): number => {
  expect(y.data.length).toBe(w.length);
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i] * y.data[i];
  return s;
};

/** Random weights for every parameter of a module: norm scales 1 ± 0.3, biases ±0.2, weights ±1.5/√fan_in. */
function randomWeights(module: nn.Module, rng: Rng): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, p] of module.namedParameters()) {
    const shape = [...p.shape];
    const n = sizeOf(shape);
    let data: Float32Array;
    if (name.endsWith('.bias')) data = uniform(rng, n, -0.2, 0.2);
    else if (shape.length === 1) data = uniform(rng, n, 0.7, 1.3);
    else {
      const bound = 1.5 / Math.sqrt(sizeOf(shape.slice(1)));
      data = uniform(rng, n, -bound, bound);
    }
    out.set(name, { shape, data });
  }
  return out;
}

/** Reads every parameter's gradient, then frees gradients and parameters. */
async function takeParamGrads(module: nn.Module): Promise<Map<string, Float32Array>> {
  const grads = new Map<string, Float32Array>();
  for (const [name, p] of module.namedParameters()) {
    expect(p.grad, `${name} has a gradient`).toBeTruthy();
    grads.set(name, (await p.grad!.read()) as Float32Array);
  }
  module.zeroGrad();
  for (const t of module.stateDict().values()) t.dispose();
  return grads;
}

function expectNoFailures(failures: string[], what: string): void {
  expect(failures, `${what}: ${failures.length} gradient coordinates off:\n${failures.join('\n')}`).toEqual([]);
}

describe('float64 UNet reference', () => {
  it('reproduces diffusers golden outputs of the three tiny UNets (and its conv2d matches the plain-sum reference)', () => {
    const rng = makeRng(7);
    for (const [stride, padding, k] of [[1, 1, 3], [2, 1, 3], [1, 0, 1], [2, 0, 3]]) {
      const x = arr(uniform(rng, 2 * 3 * 7 * 6), [2, 3, 7, 6]);
      const w = arr(uniform(rng, 5 * 3 * k * k), [5, 3, k, k]);
      const b = arr(uniform(rng, 5), [5]);
      const opt = { stride: [stride, stride] as [number, number], padding: [padding, padding] as [number, number], dilation: [1, 1] as [number, number], groups: 1 };
      expectClose(conv2d(x, w, b, stride, padding).data, refConv2d(x.data, x.shape, w.data, w.shape, b.data, opt), { rtol: 1e-12, atol: 1e-12 }, `conv2d s${stride} p${padding} k${k}`);
    }
    for (const name of ['unet-sd2-tiny', 'unet-sd1-tiny', 'unet-emb-tiny']) {
      const dir = join(GOLDEN, name);
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      const weights = readSafetensors(join(dir, 'diffusion_pytorch_model.safetensors')).tensors as Map<string, { shape: number[]; data: Float32Array }>;
      const g = readSafetensors(join(dir, 'golden.safetensors')).tensors;
      const get = (k: string) => arr(g.get(k)!.data, g.get(k)!.shape);
      const out = refUNet2DCondition(config, weights, {
        sample: get('sample'),
        timestep: Array.from(g.get('timestep')!.data),
        ...(g.has('image_embedding') ? { imageEmbedding: get('image_embedding') } : { encoderHiddenStates: get('encoder_hidden_states') }),
      });
      const expected = g.get('output')!;
      expect(out.shape, name).toEqual(expected.shape);
      const maxAbs = Array.from(expected.data).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      // The goldens are f32 (PyTorch CPU): ~1.5e-6 of max|output| is what separates them from f64.
      expectClose(out.data, expected.data, { rtol: 1e-5, atol: 1e-5 * maxAbs }, `${name}: reference vs diffusers`);
    }
  });
});

describe('UNet gradients: GPU autograd vs finite differences of the float64 reference', () => {
  it('ResnetBlock2D 32 → 64 (conv_shortcut, 8 groups): input, time embedding and every parameter', async () => {
    const rng = makeRng(11);
    const [B, CIN, COUT, T, H, W, GROUPS, EPS] = [2, 32, 64, 16, 6, 5, 8, 1e-5];
    const liveBefore = DeviceArray.live;
    const block = new ResnetBlock2D({ inChannels: CIN, outChannels: COUT, tembChannels: T, groups: GROUPS, eps: EPS });
    const host = randomWeights(block, rng);
    block.loadStateDict(host);
    const x = uniform(rng, B * CIN * H * W, -2, 2);
    const temb = uniform(rng, B * T, -2, 2);
    const w = uniform(rng, B * COUT * H * W);

    const gpu = await tidy(async () => {
      const xt = tensor(x, [B, CIN, H, W], { requiresGrad: true });
      const tt = tensor(temb, [B, T], { requiresGrad: true });
      const y = block.forward(xt, tt.silu()); // the module takes SiLU(temb); diffusers applies it inside
      y.mul(tensor(w, [...y.shape])).sum().backward();
      return { y: await y.read(), gx: (await xt.grad!.read()) as Float32Array, gt: (await tt.grad!.read()) as Float32Array, shape: [...y.shape] };
    });
    const params = await takeParamGrads(block);
    expect(DeviceArray.live, 'arrays leaked').toBe(liveBefore);

    const ref = toFloat64Weights(host) as F64Map;
    const xr = arr(x, [B, CIN, H, W]);
    const tr = arr(temb, [B, T]);
    const used = new Set<string>();
    const forward = () => refResnetBlock2D(ref, '', xr, tr, { groups: GROUPS, eps: EPS, used });
    const y64 = forward();
    expect([...used].sort(), 'the reference reads exactly the module parameters').toEqual([...params.keys()].sort());
    expect(gpu.shape).toEqual(y64.shape);
    expectClose(gpu.y, y64.data, { rtol: 1e-4, atol: 1e-5 }, 'resnet forward');

    const probes: Probe[] = [
      { what: 'x', gpu: gpu.gx, ref: xr.data, indices: pickIndices(rng, gpu.gx, 16) },
      { what: 'temb', gpu: gpu.gt, ref: tr.data, indices: pickIndices(rng, gpu.gt, 8) },
      ...[...params].map(([name, g]) => ({ what: name, gpu: g, ref: ref.get(name)!.data, indices: pickIndices(rng, g, 3) })),
    ];
    expect(params.has('conv_shortcut.weight') && params.has('time_emb_proj.weight')).toBe(true);
    expectNoFailures(finiteDifferenceFailures(() => weightedSum(w, forward()), probes), 'ResnetBlock2D');
  });

  for (const linearProjection of [true, false]) {
    it(`Transformer2DModel (${linearProjection ? 'Linear' : '1×1 conv'} projections, 2 layers, cross-attention): input, context and every parameter`, async () => {
      const rng = makeRng(linearProjection ? 21 : 22);
      const [B, C, HEADS, CTX, S, H, W, GROUPS, LAYERS] = [2, 32, 4, 24, 5, 3, 4, 8, 2];
      const opts = { heads: HEADS, groups: GROUPS, linearProjection, layers: LAYERS };
      const liveBefore = DeviceArray.live;
      const model = new Transformer2DModel({ channels: C, heads: HEADS, contextDim: CTX, groups: GROUPS, layers: LAYERS, linearProjection });
      const host = randomWeights(model, rng);
      model.loadStateDict(host);
      const x = uniform(rng, B * C * H * W, -2, 2);
      const ctx = uniform(rng, B * S * CTX, -2, 2);
      const w = uniform(rng, B * C * H * W);

      const gpu = await tidy(async () => {
        const xt = tensor(x, [B, C, H, W], { requiresGrad: true });
        const ct = tensor(ctx, [B, S, CTX], { requiresGrad: true });
        const y = model.forward(xt, ct);
        y.mul(tensor(w, [...y.shape])).sum().backward();
        return { y: await y.read(), gx: (await xt.grad!.read()) as Float32Array, gc: (await ct.grad!.read()) as Float32Array, shape: [...y.shape] };
      });
      const params = await takeParamGrads(model);
      expect(DeviceArray.live, 'arrays leaked').toBe(liveBefore);

      const ref = toFloat64Weights(host) as F64Map;
      const xr = arr(x, [B, C, H, W]);
      const cr = arr(ctx, [B, S, CTX]);
      const used = new Set<string>();
      const forward = () => refTransformer2D(ref, '', xr, cr, { ...opts, used });
      const y64 = forward();
      expect([...used].sort(), 'the reference reads exactly the module parameters').toEqual([...params.keys()].sort());
      expect(gpu.shape).toEqual(y64.shape);
      expectClose(gpu.y, y64.data, { rtol: 1e-4, atol: 1e-5 }, 'transformer forward');

      const probes: Probe[] = [
        { what: 'x', gpu: gpu.gx, ref: xr.data, indices: pickIndices(rng, gpu.gx, 16) },
        { what: 'context', gpu: gpu.gc, ref: cr.data, indices: pickIndices(rng, gpu.gc, 12) },
        ...[...params].map(([name, g]) => ({ what: name, gpu: g, ref: ref.get(name)!.data, indices: pickIndices(rng, g, name.includes('ff.net.0') ? 6 : 2) })),
      ];
      expectNoFailures(finiteDifferenceFailures(() => weightedSum(w, forward()), probes), `Transformer2DModel linear=${linearProjection}`);
    });
  }

  it('whole UNet2DConditionModel (unet-sd2-tiny, 8×8): sample, encoder_hidden_states and parameters from conv_in to conv_out', async () => {
    const rng = makeRng(31);
    const dir = join(GOLDEN, 'unet-sd2-tiny');
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    const host = readSafetensors(join(dir, 'diffusion_pytorch_model.safetensors')).tensors as Map<string, { shape: number[]; data: Float32Array }>;
    const [B, CIN, H, W, S, CTX] = [1, config.in_channels, 8, 8, 7, config.cross_attention_dim];
    const timestep = [321];
    const sample = uniform(rng, B * CIN * H * W, -2, 2);
    const context = uniform(rng, B * S * CTX, -2, 2);
    const w = uniform(rng, B * config.out_channels * H * W);
    const names = [
      'conv_in.weight',
      'time_embedding.linear_1.weight',
      'down_blocks.0.resnets.1.conv1.weight',
      'down_blocks.0.downsamplers.0.conv.weight',
      'down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight',
      'mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj.weight',
      'mid_block.resnets.1.norm2.weight',
      'up_blocks.0.upsamplers.0.conv.weight',
      'up_blocks.1.resnets.0.conv_shortcut.weight',
      'conv_out.weight',
    ];

    const liveBefore = DeviceArray.live;
    const model = unetFromConfig(config, { label: dir });
    model.loadStateDict(host);
    const gpu = await tidy(async () => {
      const st = tensor(sample, [B, CIN, H, W], { requiresGrad: true });
      const ct = tensor(context, [B, S, CTX], { requiresGrad: true });
      const y: Tensor = model.forward({ sample: st, timestep, encoderHiddenStates: ct });
      y.mul(tensor(w, [...y.shape])).sum().backward();
      return { y: await y.read(), gs: (await st.grad!.read()) as Float32Array, gc: (await ct.grad!.read()) as Float32Array, shape: [...y.shape] };
    });
    const params = await takeParamGrads(model);
    expect(DeviceArray.live, 'arrays leaked').toBe(liveBefore);

    const ref = toFloat64Weights(host) as F64Map;
    const sr = arr(sample, [B, CIN, H, W]);
    const cr = arr(context, [B, S, CTX]);
    const forward = () => refUNet2DCondition(config, ref, { sample: sr, timestep, encoderHiddenStates: cr });
    const y64 = forward();
    expect(gpu.shape).toEqual(y64.shape);
    const maxAbs = y64.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expectClose(gpu.y, y64.data, { rtol: 1e-4, atol: 1e-4 * maxAbs }, 'unet forward');

    const probes: Probe[] = [
      { what: 'sample', gpu: gpu.gs, ref: sr.data, indices: pickIndices(rng, gpu.gs, 5) },
      { what: 'encoder_hidden_states', gpu: gpu.gc, ref: cr.data, indices: pickIndices(rng, gpu.gc, 3) },
      ...names.map((name) => {
        const g = params.get(name);
        if (!g) throw new Error(`the GPU model has no parameter ${name}`);
        return { what: name, gpu: g, ref: ref.get(name)!.data, indices: pickIndices(rng, g, 1) };
      }),
    ];
    expectNoFailures(finiteDifferenceFailures(() => weightedSum(w, forward()), probes), 'UNet2DConditionModel');
  });
});
