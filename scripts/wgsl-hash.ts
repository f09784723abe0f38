// Hashes every WGSL string the kernels hand to pipeline creation over a representative set of ops,
// shapes, forced variants and tunings, on the real adapter and on simulated ones (rt().info replaced:
// NVIDIA, an 'other' adapter with varying subgroups, one without subgroups, lavapipe without
// subgroups). rt().dispatch is stubbed to record { name, code } and skip compiling/running, so the
// run takes seconds. Works against the old override API (per-call variant, setConv2dVariant,
// conv2dTuning, attentionTuning, kitOverrides) and the new `withTuning`.
// Usage: pnpm tsx scripts/wgsl-hash.ts [--list]   (a refactor meant as a move must leave both hashes unchanged)
import { createHash } from 'node:crypto';
import * as K from '@sd/kernels';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const k = K as any;
const rt = await K.initRuntime();
const realInfo = rt.info;

interface Tuning {
  matmul?: { variant?: string };
  conv2d?: { variant?: string; gemm?: unknown; tile?: unknown; weightSource?: string; weightGrad?: unknown };
  attention?: { variant?: string; blocks?: Record<string, number> };
  reduce?: { subgroup?: number; threads?: number; rowLanes?: number; splitTarget?: number; maxCached?: number };
}

/** Runs fn under `t` with whichever override API this checkout has. */
function scoped(t: Tuning, fn: () => void): void {
  if (k.withTuning) return k.withTuning(t, fn);
  // Old API: globals, restored afterwards (matmul and attention variants go per call, see below).
  if (t.conv2d?.variant) k.setConv2dVariant(t.conv2d.variant);
  const ct = k.conv2dTuning;
  if (t.conv2d?.gemm) ct.gemm = t.conv2d.gemm;
  if (t.conv2d?.tile) ct.tile = t.conv2d.tile;
  if (t.conv2d?.weightSource) ct.weightSource = t.conv2d.weightSource;
  if (t.conv2d?.weightGrad) ct.weightGrad = t.conv2d.weightGrad;
  if (t.attention?.blocks) Object.assign(k.attentionTuning, t.attention.blocks);
  const r = t.reduce ?? {};
  const kit = { ...r, subgroups: r.subgroup === 0 ? false : undefined } as Record<string, unknown>;
  delete kit.subgroup;
  for (const [key, v] of Object.entries(kit)) if (v !== undefined) k.kitOverrides[key] = v;
  try {
    fn();
  } finally {
    k.setConv2dVariant(null);
    for (const key of Object.keys(ct)) delete ct[key];
    for (const key of Object.keys(k.attentionTuning)) delete k.attentionTuning[key];
    for (const key of Object.keys(k.kitOverrides)) delete k.kitOverrides[key];
  }
}

// Record instead of dispatching.
const log: string[] = [];
const events: string[] = [];
(rt as unknown as { dispatch: (d: { name: string; code: string }) => void }).dispatch = (d) => {
  log.push(`${d.name}\n${d.code}`);
};

const E = (shape: number[], dtype: 'f32' | 'i32' = 'f32') => K.DeviceArray.empty(shape, dtype, 'hash');
function attempt(what: string, fn: () => void): void {
  const before = log.length;
  try {
    fn();
    events.push(`${what}: ${log.length - before} dispatches`);
  } catch (e) {
    events.push(`${what}: threw ${(e as Error).message}`);
  }
}

// ---- workloads ----
function matmuls(variant: string | undefined): void {
  const cases: Array<[number[], number[], Record<string, unknown>]> = [
    [[1, 1], [1, 1], {}],
    [[17, 13], [13, 31], {}],
    [[65, 33], [33, 129], {}],
    [[3, 300], [300, 2], {}],
    [[64, 64], [64, 64], {}],
    [[130, 150], [150, 200], {}],
    [[256, 256], [256, 256], {}],
    [[1024, 1024], [1024, 1024], {}],
    [[1792, 64], [64, 1792], {}],
    [[1920, 64], [64, 1920], {}],
    [[4096, 512], [512, 2048], {}],
    [[4, 1024, 64], [4, 64, 1024], {}],
    [[8, 8, 256, 64], [8, 8, 64, 256], {}],
    [[132, 136], [200, 132], { transA: true, transB: true }],
    [[2, 1, 23, 19], [1, 3, 37, 23], { transA: true, transB: true, bias: 37, activation: 'gelu_erf' }],
    [[3, 23, 19], [3, 23, 37], { transA: true }],
    [[3, 9, 7], [6, 7], { transB: true, bias: 6, activation: 'relu' }],
    [[2, 13, 20], [37, 20], { transB: true, bias: 37, activation: 'quick_gelu' }],
    [[64, 1030], [1030, 72], {}],
    [[131, 168], [168, 200], {}],
    [[65, 1, 4], [65, 4, 1061], {}],
    [[16393, 5], [5, 3], { bias: 3 }],
  ];
  for (const [as, bs, o] of cases) {
    attempt(`matmul ${variant ?? 'auto'} ${JSON.stringify([as, bs, o])}`, () => {
      const a = E(as);
      const b = E(bs);
      const bias = o.bias ? E([o.bias as number]) : undefined;
      const y = K.matmul(a, b, { ...o, bias, variant } as never);
      for (const x of [a, b, bias, y]) x?.dispose();
    });
  }
}

interface Conv {
  x: number[];
  w: number[];
  o: Record<string, unknown>;
}
const CONVS: Conv[] = [
  { x: [2, 5, 9, 11], w: [6, 5, 3, 3], o: { padding: 1 } },
  { x: [1, 20, 6, 7], w: [19, 20, 3, 3], o: { padding: 1 } },
  { x: [2, 7, 5, 6], w: [10, 7, 1, 1], o: {} },
  { x: [1, 4, 7, 7], w: [3, 4, 1, 1], o: { stride: 2 } },
  { x: [1, 4, 9, 10], w: [5, 4, 3, 3], o: { stride: 2, padding: 1 } },
  { x: [2, 3, 10, 12], w: [4, 3, 4, 4], o: { stride: 2, padding: 1 } },
  { x: [1, 3, 28, 42], w: [5, 3, 14, 14], o: { stride: 14 } },
  { x: [2, 3, 64, 64], w: [64, 3, 16, 16], o: { stride: 16 } },
  { x: [1, 3, 9, 8], w: [5, 3, 3, 2], o: { stride: [2, 1], padding: [0, 2], dilation: [1, 2] } },
  { x: [2, 6, 7, 7], w: [4, 3, 3, 3], o: { padding: 1, groups: 2 } },
  { x: [1, 5, 6, 7], w: [5, 1, 3, 3], o: { padding: 1, groups: 5 } },
  { x: [1, 40, 6, 16], w: [36, 40, 3, 3], o: { padding: 1 } },
  { x: [1, 64, 64, 64], w: [64, 64, 3, 3], o: { padding: 1 } },
  { x: [1, 320, 64, 64], w: [320, 320, 3, 3], o: { padding: 1 } },
  { x: [4, 320, 64, 64], w: [320, 320, 3, 3], o: { padding: 1 } },
  { x: [2, 256, 32, 32], w: [512, 256, 1, 1], o: {} },
  { x: [1, 8, 20000, 1], w: [8, 8, 3, 1], o: { padding: [1, 0] } },
];
function convs(): void {
  for (const c of CONVS) {
    attempt(`conv2d ${JSON.stringify(c)}`, () => {
      const x = E(c.x);
      const w = E(c.w);
      const b = E([c.w[0]]);
      const y = K.conv2d(x, w, b, c.o);
      const dx = K.conv2dBackwardInput(y, w, c.x, c.o);
      const dw = K.conv2dBackwardWeight(y, x, c.w, c.o);
      const db = K.conv2dBackwardBias(y);
      for (const a of [x, w, b, y, dx, dw, db]) a.dispose();
    });
  }
}

function attentions(variant: string | undefined): void {
  const cases: Array<[number[], number, { causal?: boolean; mask?: boolean }]> = [
    [[1, 1, 1, 8], 1, {}],
    [[2, 2, 17, 8], 17, { causal: true, mask: true }],
    [[1, 2, 5, 8], 70, { causal: true }],
    [[1, 8, 256, 64], 256, {}],
    [[2, 1, 9, 80], 11, { mask: true }],
    [[1, 2, 10, 128], 9, { causal: true }],
    [[1, 1, 12, 6], 19, { mask: true }],
    [[2, 1, 19, 20], 23, { causal: true, mask: true }],
    [[1, 1, 16400, 8], 16400, {}],
  ];
  for (const [qs, sk, o] of cases) {
    attempt(`attention ${variant ?? 'auto'} ${JSON.stringify([qs, sk, o])}`, () => {
      const [B, H, , D] = qs;
      const q = E(qs);
      const kk = E([B, H, sk, D]);
      const v = E([B, H, sk, D]);
      const mask = o.mask ? E([B, sk]) : undefined;
      const opts = { causal: o.causal, keyPaddingMask: mask, variant } as never;
      const { out, lse } = K.attention(q, kk, v, opts);
      const g = K.attentionBackward(q, kk, v, out, lse, out, opts);
      for (const a of [q, kk, v, mask, out, lse, g.dq, g.dk, g.dv]) a?.dispose();
    });
  }
}

function rowsAndReductions(): void {
  const reduceCases: Array<[number[], number | number[] | undefined]> = [
    [[37, 129], 1],
    [[37, 129], 0],
    [[3, 100_003], -1],
    [[70_001, 5], 0],
    [[70_001, 8], 0],
    [[2, 70_001, 2], 1],
    [[2, 1_100_001], 0],
    [[4096, 1024], [0, 1]],
    [[1, 320, 64, 64], [0, 2, 3]],
    [[7], undefined],
  ];
  for (const [shape, axes] of reduceCases) {
    attempt(`reduce ${JSON.stringify([shape, axes])}`, () => {
      const x = E(shape);
      const outs = [K.sum(x, axes as never), K.mean(x, axes as never), K.max(x, axes as never), K.min(x, axes as never)];
      if (typeof axes === 'number') outs.push(K.argmax(x, axes));
      for (const a of [x, ...outs]) a.dispose();
    });
  }
  for (const shape of [[3, 13], [9, 129], [2, 5003], [4096, 1024], [7, 3], [5, 49408]]) {
    attempt(`softmax/norm/ce ${JSON.stringify(shape)}`, () => {
      const x = E(shape);
      const outs = [K.softmax(x), K.logSoftmax(x)];
      outs.push(K.softmaxBackward(outs[0], x), K.logSoftmaxBackward(outs[1], x));
      const cols = shape[shape.length - 1];
      const w = E([cols]);
      const b = E([cols]);
      const ln = K.layerNorm(x, w, b);
      const lg = K.layerNormBackward(x, x, w, ln.mean, ln.rstd);
      const rn = K.rmsNorm(x, w);
      const rg = K.rmsNormBackward(x, x, w, rn.rstd);
      const t = E([shape[0]], 'i32');
      const ce = K.crossEntropy(x, t);
      const dce = K.crossEntropyBackward(ce.loss, x, t, ce.saved);
      for (const a of [x, w, b, ...outs, ln.y, ln.mean, ln.rstd, lg.dx, lg.dweight, lg.dbias, rn.y, rn.rstd, rg.dx, rg.dweight, t, ce.loss, dce]) a?.dispose();
    });
  }
  for (const [shape, groups] of [[[1, 320, 64, 64], 32], [[2, 6, 5, 7], 3], [[20000, 8, 3], 2]] as Array<[number[], number]>) {
    attempt(`groupNorm ${JSON.stringify(shape)}`, () => {
      const x = E(shape);
      const w = E([shape[1]]);
      const b = E([shape[1]]);
      for (const silu of [false, true]) {
        const r = K.groupNorm(x, groups, w, b, 1e-5, { silu });
        const g = K.groupNormBackward(x, x, w, b, r.mean, r.rstd, groups, { silu });
        for (const a of [r.y, r.mean, r.rstd, g.dx, g.dweight, g.dbias]) a?.dispose();
      }
      for (const a of [x, w, b]) a.dispose();
    });
  }
}

// ---- adapters and tunings ----
const limits = realInfo.limits;
const ADAPTERS: Array<[string, K.DeviceInfo]> = [
  ['real', realInfo],
  ['nvidia', { ...realInfo, kind: 'nvidia', features: ['shader-f16', 'subgroups', 'timestamp-query'], subgroupSize: { min: 32, max: 32 }, limits: { ...limits, maxComputeWorkgroupStorageSize: 49152 } }],
  ['other-varying-subgroups', { ...realInfo, kind: 'other', features: ['subgroups'], subgroupSize: { min: 32, max: 64 } }],
  ['other-no-subgroups', { ...realInfo, kind: 'other', features: [], subgroupSize: { min: 0, max: 0 }, limits: { ...limits, maxComputeWorkgroupStorageSize: 16384 } }],
  ['lavapipe-no-subgroups', { ...realInfo, kind: 'lavapipe', features: ['timestamp-query'], subgroupSize: { min: 8, max: 8 } }],
];
const GEMM_LARGE = k.GEMM_LARGE;
const TUNINGS: Array<[string, Tuning]> = [
  ['conv texture', { conv2d: { variant: 'texture' } }],
  ['conv subgroup', { conv2d: { variant: 'subgroup' } }],
  ['conv portable', { conv2d: { variant: 'portable' } }],
  ['conv tiled', { conv2d: { variant: 'tiled' } }],
  ['conv tiled large', { conv2d: { variant: 'tiled', gemm: GEMM_LARGE } }],
  ['conv tile/weights', { conv2d: { tile: { ot: 4, cu: 2 }, weightSource: 'buffer', weightGrad: { chunks: 3 } } }],
  ['attention lanes 8', { attention: { blocks: { lanes: 8 } } }],
  ['attention lanes 4 tile 16', { attention: { blocks: { lanes: 4, tile: 16 } } }],
  ['kit tree', { reduce: { subgroup: 0, threads: 256, rowLanes: 256, splitTarget: 512, maxCached: 8 } }],
  ['kit warp', { reduce: { threads: 256, rowLanes: 32, maxCached: 8 } }],
  ['kit threads 16', { reduce: { threads: 16 } }],
];

const setInfo = (info: K.DeviceInfo) => ((rt as unknown as { info: K.DeviceInfo }).info = info);
const sections: Record<string, string> = {};
for (const [adapter, info] of ADAPTERS) {
  setInfo(info);
  const start = log.length;
  events.push(`## ${adapter}`);
  matmuls(undefined);
  for (const v of ['lavapipe', 'nvidia', 'portable', 'classic']) scoped({ matmul: { variant: v } }, () => matmuls(v));
  convs();
  attentions(undefined);
  for (const v of ['subgroup', 'tiled']) scoped({ attention: { variant: v } }, () => attentions(v));
  rowsAndReductions();
  for (const [name, t] of TUNINGS) {
    events.push(`# ${name}`);
    scoped(t, () => {
      if (t.conv2d) convs();
      if (t.attention) scoped({ attention: { variant: 'tiled' } }, () => attentions('tiled'));
      if (t.reduce) rowsAndReductions();
    });
  }
  sections[adapter] = createHash('sha256').update(log.slice(start).join('\n\0')).digest('hex');
}
setInfo(realInfo);

const all = createHash('sha256').update(log.join('\n\0')).digest('hex');
const unique = new Set(log);
const eventsHash = createHash('sha256').update(events.join('\n')).digest('hex');
if (process.argv.includes('--list')) for (const e of events) console.log(e);
for (const [a, h] of Object.entries(sections)) console.log(`${a.padEnd(24)} ${h}`);
console.log(`dispatches ${log.length}, distinct shaders ${unique.size}`);
console.log(`events (dispatch counts and errors) ${eventsHash}`);
console.log(`WGSL sha256 ${all}`);
process.exit(0);
