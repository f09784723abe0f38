// nn modules: PyTorch state_dict names, train/eval propagation, strict and non-strict loading,
// PyTorch's initialisation bounds, seeded reproducibility, and checkpoint round trips.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getGenerator, loadCheckpoint, manualSeed, nn, saveCheckpoint, tensor, tidy, type Tensor } from '@sd/autograd';
import { DeviceArray } from '@sd/kernels';
import { expectClose } from '../util/close.ts';
import { multiHeadAttentionRef } from '../util/ref/attention.ts';
import { refMatmul } from '../util/ref/matmul.ts';

const dir = mkdtempSync(join(tmpdir(), 'modules-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const names = (m: nn.Module) => [...m.namedParameters()].map(([n]) => n);
const shapes = (m: nn.Module) => Object.fromEntries([...m.stateDict()].map(([n, t]) => [n, [...t.shape]]));
const dispose = (m: nn.Module) => m.parameters().forEach((p) => p.dispose());

/** A custom module with a buffer, a child list and a nested block, as model code would write it. */
class Block extends nn.Module {
  readonly norm = this.module('norm', new nn.LayerNorm(4));
  readonly layers = this.module('layers', new nn.ModuleList([new nn.Linear(4, 4), new nn.Linear(4, 2, { bias: false })]));
  readonly scale = this.buffer('scale', tensor([2], [1]));
}

describe('parameter names follow PyTorch state_dict', () => {
  it('Sequential numbers its children; parameterless layers keep their index', () => {
    const m = new nn.Sequential(new nn.Linear(3, 5), new nn.GELU(), new nn.Dropout(0.1), new nn.Linear(5, 2));
    expect(shapes(m)).toEqual({ '0.weight': [5, 3], '0.bias': [5], '3.weight': [2, 5], '3.bias': [2] });
    expect(m.numParameters()).toBe(15 + 5 + 10 + 2);
    dispose(m);
  });

  it('MultiheadAttention uses the packed in_proj and out_proj names', () => {
    const m = new nn.MultiheadAttention(8, 2);
    expect(shapes(m)).toEqual({ in_proj_weight: [24, 8], in_proj_bias: [24], 'out_proj.weight': [8, 8], 'out_proj.bias': [8] });
    dispose(m);
    const noBias = new nn.MultiheadAttention(8, 4, { bias: false });
    expect(names(noBias)).toEqual(['in_proj_weight', 'out_proj.weight']);
    dispose(noBias);
    expect(() => new nn.MultiheadAttention(6, 4)).toThrow('MultiheadAttention: 4 heads do not divide embed dim 6');
  });

  it('layers, blocks, lists, buffers and nesting', () => {
    const block = new Block();
    expect(shapes(block)).toEqual({
      'norm.weight': [4],
      'norm.bias': [4],
      'layers.0.weight': [4, 4],
      'layers.0.bias': [4],
      'layers.1.weight': [2, 4],
      scale: [1],
    });
    expect([...block.namedModules()].map(([n]) => n)).toEqual(['', 'norm', 'layers', 'layers.0', 'layers.1']);
    const ff = new nn.GEGLUFeedForward(4, 2);
    expect(names(ff)).toEqual(['net.0.proj.weight', 'net.0.proj.bias', 'net.2.weight', 'net.2.bias']);
    const mlp = new nn.MLP(4, 8);
    expect(names(mlp)).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    const conv = new nn.Conv2d(4, 6, 3, { groups: 2 });
    expect(shapes(conv)).toEqual({ weight: [6, 2, 3, 3], bias: [6] });
    const gn = new nn.GroupNorm(2, 6);
    expect(names(gn)).toEqual(['weight', 'bias']);
    const emb = new nn.Embedding(10, 3);
    expect(shapes(emb)).toEqual({ weight: [10, 3] });
    const rms = new nn.RMSNorm(5);
    expect(names(rms)).toEqual(['weight']);
    for (const m of [block, ff, mlp, conv, gn, emb, rms]) dispose(m);
    block.scale.dispose();
  });
});

describe('MultiheadAttention forward', () => {
  /** torch.nn.MultiheadAttention (batch_first) in float64 from its parameters. */
  function refMha(q: Float32Array, k: Float32Array, v: Float32Array, b: number, sq: number, sk: number, e: number, h: number, p: Record<string, Float32Array>, opts: { causal?: boolean; mask?: number[] }) {
    const proj = (x: Float32Array, rows: number, part: number) => {
      const w = p.in_proj_weight.subarray(part * e * e, (part + 1) * e * e);
      const bias = p.in_proj_bias.subarray(part * e, (part + 1) * e);
      return refMatmul(x, [b * rows, e], w, [e, e], { transB: true, bias }).data;
    };
    const merged = multiHeadAttentionRef(proj(q, sq, 0), proj(k, sk, 1), proj(v, sk, 2), { N: b, Sq: sq, Sk: sk, heads: h }, { causal: opts.causal, mask: opts.mask });
    return refMatmul(merged, [b * sq, e], p['out_proj.weight'], [e, e], { transB: true, bias: p['out_proj.bias'] }).data;
  }

  it('matches torch.nn.MultiheadAttention math: self-attention (causal) and cross-attention with a key padding mask', async () => {
    manualSeed(9);
    const [b, sq, sk, e, h] = [2, 3, 4, 8, 2];
    const mha = new nn.MultiheadAttention(e, h);
    // Non-zero biases so that every term is exercised.
    mha.inProjBias!.assign(DeviceArray.from(Float32Array.from({ length: 3 * e }, (_, i) => 0.1 * Math.sin(i)), [3 * e]));
    mha.outProj.bias!.assign(DeviceArray.from(Float32Array.from({ length: e }, (_, i) => 0.05 * i), [e]));
    const p: Record<string, Float32Array> = {};
    for (const [name, t] of mha.stateDict()) p[name] = (await t.read()) as Float32Array;
    const xq = Float32Array.from({ length: b * sq * e }, (_, i) => Math.cos(0.7 * i));
    const xk = Float32Array.from({ length: b * sk * e }, (_, i) => Math.sin(0.3 * i + 1));
    const xs = Float32Array.from({ length: b * sq * e }, (_, i) => Math.sin(1.3 * i));
    const mask = [1, 1, 0, 1, 1, 0, 1, 0];
    await tidy(async () => {
      const self = tensor(xs, [b, sq, e]);
      const got = await mha.forward(self, self, self, { causal: true }).read();
      expectClose(got, refMha(xs, xs, xs, b, sq, sq, e, h, p, { causal: true }), { rtol: 1e-4, atol: 1e-5 }, 'self-attention');
      const cross = await mha.forward(tensor(xq, [b, sq, e]), tensor(xk, [b, sk, e]), undefined, { keyPaddingMask: tensor(mask, [b, sk]) }).read();
      expectClose(cross, refMha(xq, xk, xk, b, sq, sk, e, h, p, { mask }), { rtol: 1e-4, atol: 1e-5 }, 'cross-attention');
    });
    dispose(mha);
  });
});

describe('train / eval', () => {
  it('propagates to every descendant and changes dropout', async () => {
    const inner = new nn.Sequential(new nn.Dropout(0.9));
    const m = new nn.Sequential(new nn.Linear(2, 2), inner);
    const all = [...m.namedModules()].map(([, x]) => x);
    expect(all.every((x) => x.training)).toBe(true);
    m.eval();
    expect(all.every((x) => !x.training)).toBe(true);
    await tidy(async () => {
      const x = tensor([1, 2, 3, 4], [2, 2]);
      expect(inner.forward(x)).toBe(x); // identity in eval mode
    });
    m.train();
    expect(all.every((x) => x.training)).toBe(true);
    m.train(false);
    expect(inner.training).toBe(false);
    dispose(m);
  });
});

describe('loadStateDict', () => {
  const host = (shape: number[], fill: number) => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill) });

  it('strict: reports missing, unexpected and mis-shaped names, and loads nothing', async () => {
    const m = new nn.Sequential(new nn.Linear(3, 2), new nn.Linear(2, 1));
    const before = await m.layers[0].parameters()[0].toArray();
    const state = new Map([
      ['0.weight', host([2, 3], 1)],
      ['0.bias', host([3], 1)],
      ['1.weight', host([1, 2], 1)],
      ['extra.weight', host([1], 0)],
    ]);
    expect(() => m.loadStateDict(state, { source: 'ckpt.safetensors' })).toThrow(
      'loadStateDict (ckpt.safetensors): missing 1: 1.bias; unexpected 1: extra.weight; 0.bias: expected shape [2], file has [3]',
    );
    expect(await m.layers[0].parameters()[0].toArray()).toEqual(before);
    dispose(m);
  });

  it('non-strict: loads every matching tensor and returns the problems', async () => {
    const m = new nn.Sequential(new nn.Linear(3, 2), new nn.Linear(2, 1));
    const state = new Map<string, nn.HostTensor>([
      ['0.weight', host([2, 3], 1.5)],
      ['0.bias', host([3], 1)],
      ['1.weight', { shape: [1, 2], data: new Int32Array([3, 4]) }],
      ['extra', host([1], 0)],
    ]);
    const result = m.loadStateDict(state, { strict: false });
    expect(result).toEqual({ missing: ['1.bias'], unexpected: ['extra'], mismatched: [{ name: '0.bias', expected: [2], got: [3] }] });
    expect(await m.stateDict().get('0.weight')!.toArray()).toEqual([1.5, 1.5, 1.5, 1.5, 1.5, 1.5]);
    expect(await m.stateDict().get('1.weight')!.toArray()).toEqual([3, 4]); // integers widen to f32
    const p = m.stateDict().get('0.weight')!;
    expect(p.requiresGrad).toBe(true); // still a parameter after loading
    dispose(m);
  });
});

describe('initialisation', () => {
  async function values(t: Tensor): Promise<number[]> {
    return t.toArray();
  }
  const maxAbs = (v: number[]) => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const std = (v: number[]) => Math.sqrt(mean(v.map((x) => (x - mean(v)) ** 2)));

  it('Linear and Conv2d: Kaiming-uniform weights and biases within 1/√fan_in (filling the range)', async () => {
    manualSeed(1);
    const lin = new nn.Linear(50, 200);
    const conv = new nn.Conv2d(8, 16, 3, { groups: 2 });
    for (const [t, fanIn] of [
      [lin.weight, 50],
      [lin.bias!, 50],
      [conv.weight, 4 * 9],
      [conv.bias!, 4 * 9],
    ] as const) {
      const v = await values(t);
      const bound = 1 / Math.sqrt(fanIn);
      expect(maxAbs(v)).toBeLessThanOrEqual(bound);
      expect(maxAbs(v)).toBeGreaterThan(0.85 * bound);
      if (v.length > 1000) expect(std(v)).toBeCloseTo(bound / Math.sqrt(3), 2); // U(−b, b) has std b/√3
    }
    dispose(lin);
    dispose(conv);
  });

  it('MultiheadAttention: Xavier-uniform in_proj, zero biases; Embedding N(0, 1); norms ones and zeros', async () => {
    manualSeed(2);
    const mha = new nn.MultiheadAttention(16, 4);
    const w = await values(mha.inProjWeight);
    const xavier = Math.sqrt(6 / (16 + 48));
    expect(maxAbs(w)).toBeLessThanOrEqual(xavier);
    expect(maxAbs(w)).toBeGreaterThan(0.9 * xavier);
    expect(maxAbs(await values(mha.inProjBias!))).toBe(0);
    expect(maxAbs(await values(mha.outProj.bias!))).toBe(0);
    expect(maxAbs(await values(mha.outProj.weight))).toBeLessThanOrEqual(1 / 4);
    const emb = new nn.Embedding(100, 64);
    const e = await values(emb.weight);
    expect(Math.abs(mean(e))).toBeLessThan(0.05);
    expect(std(e)).toBeGreaterThan(0.95);
    expect(std(e)).toBeLessThan(1.05);
    const ln = new nn.LayerNorm(3);
    expect(await values(ln.weight!)).toEqual([1, 1, 1]);
    expect(await values(ln.bias!)).toEqual([0, 0, 0]);
    for (const m of [mha, emb, ln]) dispose(m);
  });

  it('a layer without bias allocates and draws nothing for it; disposing parameters frees everything', () => {
    const live = DeviceArray.live;
    manualSeed(3);
    const layers = [new nn.Linear(4, 3, { bias: false }), new nn.MultiheadAttention(8, 2, { bias: false }), new nn.Conv2d(2, 4, 3, { bias: false })];
    expect(getGenerator().offset).toBe(12 + 192 + 64 + 72); // weights only (offsets advance in fours)
    layers.forEach(dispose);
    expect(DeviceArray.live).toBe(live);
  });

  it('manualSeed(s) twice gives identical weights; another seed differs', async () => {
    const build = async (seed: number) => {
      manualSeed(seed);
      const m = new nn.Sequential(new nn.Linear(4, 8), new nn.GELU(), new nn.Linear(8, 3));
      const out = await Promise.all(m.parameters().map((p) => p.toArray()));
      dispose(m);
      return out;
    };
    const a = await build(123);
    expect(await build(123)).toEqual(a);
    expect(await build(124)).not.toEqual(a);
  });
});

describe('checkpoints', () => {
  it('saveCheckpoint / loadCheckpoint round-trip a model exactly, groups and metadata included', async () => {
    manualSeed(5);
    const a = new Block();
    const path = join(dir, 'model.safetensors');
    const ids = tensor([1, -2, 3], [3], { dtype: 'i32' }).keep();
    await saveCheckpoint(path, { model: a.stateDict(), extra: new Map([['ids', ids]]) }, { step: '7' });
    ids.dispose();
    manualSeed(6);
    const b = new Block();
    const ckpt = loadCheckpoint(path);
    expect(ckpt.metadata).toEqual({ step: '7' });
    expect(Array.from(ckpt.groups.extra.get('ids')!.data)).toEqual([1, -2, 3]);
    expect(ckpt.groups.extra.get('ids')!.data).toBeInstanceOf(Int32Array);
    const result = b.loadStateDict(ckpt.groups.model);
    expect(result).toEqual({ missing: [], unexpected: [], mismatched: [] });
    for (const [name, t] of a.stateDict()) expect(await b.stateDict().get(name)!.toArray(), name).toEqual(await t.toArray());
    for (const m of [a, b]) {
      dispose(m);
      m.scale.dispose();
    }
  });
});
