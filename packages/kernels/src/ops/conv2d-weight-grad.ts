// The weight gradient of conv2d: dw[o, c, kh, kw] = Σ_{n, r, s} dy[n, o, r, s] · x[n, c, r·sh − ph + kh·dh, s·sw − pw + kw·dw].
// Each workgroup owns a block of OT output channels × CT input channels × KHT kernel rows (× all
// kernel columns) and a chunk of the N·OH·OW reduction. Its lanes take different 4-pixel tiles of
// that chunk, so every lane keeps its own partial sums in registers; the lanes are combined at the end
// (subgroupAdd, or through workgroup memory), and chunks, when there are several, by a second pass.
import { DeviceArray } from '../array.ts';
import { rt } from '../runtime/current.ts';
import { cachedKernel } from '../runtime/kernel-source.ts';
import { profile } from '../runtime/profile.ts';
import { grid, gridMain, linearIndex } from '../wgsl.ts';
import { forwardProblem, textureFits, type DirectProblem } from './conv2d-direct.ts';
import type { ConvGeometry } from './conv2d-geometry.ts';
import { gemmWeightGrad } from './conv2d-gemm.ts';
import { GEMM_SMALL } from './gemm/tile.ts';
import { sourceTexture } from './conv2d-pack.ts';

/** Output pixels per lane per step: one texel of the texture sources. */
const PX = 4;

export interface WeightGradPlan {
  /** x and dy read from zero-padded textures (lavapipe) or storage buffers. */
  source: 'texture' | 'buffer';
  /** How the lanes of a workgroup are combined. */
  reduce: 'subgroup' | 'shared';
  ot: number;
  ct: number;
  /** Kernel rows per workgroup: all of them for small kernels, else one. */
  kht: number;
  wg: number;
  /** Workgroups sharing one output block, each reducing a slice of the pixel tiles. */
  chunks: number;
}

/** dy seen as the source of a 1×1 "convolution", so it can share the padded-texture layout of x. */
function dyProblem(g: ConvGeometry): DirectProblem {
  return {
    transposed: false,
    n: g.n,
    groups: 1,
    cog: 1,
    r: g.oh,
    s: g.ow,
    cr: g.o,
    hx: g.oh,
    wx: g.ow,
    kh: 1,
    kw: 1,
    sh: 1,
    sw: 1,
    ph: 0,
    pw: 0,
    dh: 1,
    dw: 1,
  };
}

/** The plan for the active conv2d variant (not 'tiled') and the adapter's fixed subgroup size. */
export function planWeightGrad(g: ConvGeometry): WeightGradPlan {
  const { conv2d, subgroup } = profile();
  const { variant } = conv2d;
  const sgSize = subgroup.fixed;
  const sg = variant !== 'portable' && sgSize > 0;
  const taps = g.kh * g.kw;
  const kht = taps <= 16 ? g.kh : 1;
  const rowTaps = kht * g.kw;
  let ot: number;
  let ct: number;
  if (taps === 1) {
    ot = 8;
    ct = 4;
  } else {
    ot = Math.max(1, Math.min(8, Math.floor(40 / rowTaps)));
    ct = 1;
  }
  ot = Math.min(ot, g.og);
  ct = Math.min(ct, g.cg);
  const texTile = { ot: 1, px: PX, wg: 1, cu: 1 };
  const texture =
    variant === 'texture' && sg && textureFits(forwardProblem(g), texTile) && textureFits(dyProblem(g), texTile);
  // The shared-memory combine holds every lane's accumulators: shrink the workgroup to fit.
  let wg = sg ? sgSize : 64;
  const accBytes = 4 * ot * ct * kht * g.kw;
  while (!sg && wg > 1 && wg * accBytes > rt().info.limits.maxComputeWorkgroupStorageSize) wg /= 2;
  const blocks = g.groups * Math.ceil(g.og / ot) * Math.ceil(g.cg / ct) * (g.kh / kht);
  const tiles = g.n * g.oh * Math.ceil(g.ow / PX);
  // Enough workgroups to fill the device, but never slices shorter than a few steps per lane.
  const target = conv2d.weightGradWorkgroups;
  const chunks = Math.max(1, Math.min(Math.ceil(target / blocks), Math.floor(tiles / (4 * wg))));
  return { source: texture ? 'texture' : 'buffer', reduce: sg ? 'subgroup' : 'shared', ot, ct, kht, wg, chunks, ...conv2d.weightGrad };
}

const COMP = ['x', 'y', 'z', 'w'];

/** WGSL of the partial weight-gradient kernel. Bindings: [dy, x buffers] | output | [dy, x textures]. */
export function weightGradKernel(g: ConvGeometry, plan: WeightGradPlan): { code: string; workgroups: [number, number] } {
  const { ot, ct, kht, wg, chunks } = plan;
  const tex = plan.source === 'texture';
  const ob = Math.ceil(g.og / ot);
  const cb = Math.ceil(g.cg / ct);
  const kb = g.kh / kht;
  const blocks = g.groups * ob * cb * kb;
  const total = blocks * chunks;
  const gx = Math.min(total, 65535);
  const gy = Math.ceil(total / gx);
  const tw = Math.ceil(g.ow / PX);
  const tiles = g.n * g.oh * tw;
  const perChunk = Math.ceil(tiles / chunks);
  const xRows = (g.oh - 1) * g.sh + (g.kh - 1) * g.dh + 1; // padded rows per image in the x texture
  const wsize = g.o * g.cg * g.kh * g.kw;
  const accs: string[] = [];
  const acc = (o: number, c: number, k: number, kw: number) => `a${o}_${c}_${k}_${kw}`;
  for (let o = 0; o < ot; o++) for (let c = 0; c < ct; c++) for (let k = 0; k < kht; k++) for (let kw = 0; kw < g.kw; kw++) accs.push(acc(o, c, k, kw));

  const L: string[] = [];
  if (plan.reduce === 'subgroup') L.push('enable subgroups;');
  if (tex) {
    L.push('@group(0) @binding(0) var<storage, read_write> part: array<f32>;');
    L.push('@group(0) @binding(1) var dyT: texture_storage_2d_array<rgba32float, read>;');
    L.push('@group(0) @binding(2) var xT: texture_storage_2d_array<rgba32float, read>;');
  } else {
    L.push('@group(0) @binding(0) var<storage, read> dy: array<f32>;');
    L.push('@group(0) @binding(1) var<storage, read> x: array<f32>;');
    L.push('@group(0) @binding(2) var<storage, read_write> part: array<f32>;');
  }
  if (plan.reduce === 'shared') L.push(`var<workgroup> red: array<f32, ${accs.length * wg}>;`);
  L.push(`@compute @workgroup_size(${wg})`);
  L.push(`fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>) {`);
  L.push(`  let wgi = wid.x + wid.y * ${gx}u;`);
  L.push(`  if (wgi >= ${total}u) { return; }`);
  L.push(`  let chunk = wgi % ${chunks}u;`);
  L.push(`  let blk = wgi / ${chunks}u;`);
  L.push(`  let kh0 = (blk % ${kb}u) * ${kht}u;`);
  L.push(`  let c0 = ((blk / ${kb}u) % ${cb}u) * ${ct}u;`);
  L.push(`  let o0 = ((blk / ${kb * cb}u) % ${ob}u) * ${ot}u;`);
  L.push(`  let g = blk / ${kb * cb * ob}u;`);
  for (const a of accs) L.push(`  var ${a} = 0.0;`);
  L.push(`  let tEnd = min((chunk + 1u) * ${perChunk}u, ${tiles}u);`);
  L.push(`  for (var t = chunk * ${perChunk}u + li; t < tEnd; t += ${wg}u) {`);
  L.push(`    let n = t / ${g.oh * tw}u;`);
  L.push(`    let r = (t / ${tw}u) % ${g.oh}u;`);
  L.push(`    let s0 = (t % ${tw}u) * ${PX}u;`);
  // dy: PX values per output channel.
  const dyv: string[][] = [];
  for (let o = 0; o < ot; o++) {
    const oc = `g * ${g.og}u + min(o0 + ${o}u, ${g.og - 1}u)`;
    if (tex) {
      L.push(`    let d${o} = textureLoad(dyT, vec2<i32>(i32(s0 / 4u), i32(n * ${g.oh}u + r)), i32(${oc}));`);
      dyv.push(COMP.map((cmp) => `d${o}.${cmp}`));
    } else {
      L.push(`    let dBase${o} = ((n * ${g.o}u + ${oc}) * ${g.oh}u + r) * ${g.ow}u + s0;`);
      const vals: string[] = [];
      for (let q = 0; q < PX; q++) {
        L.push(`    let d${o}_${q} = select(0.0, dy[min(dBase${o} + ${q}u, ${g.n * g.o * g.oh * g.ow - 1}u)], s0 + ${q}u < ${g.ow}u);`);
        vals.push(`d${o}_${q}`);
      }
      dyv.push(vals);
    }
  }
  // x: the distinct columns of each (channel, kernel row), then the products.
  for (let c = 0; c < ct; c++) {
    L.push(`    {`);
    L.push(`    let ch = g * ${g.cg}u + min(c0 + ${c}u, ${g.cg - 1}u);`);
    for (let k = 0; k < kht; k++) {
      L.push(`    {`);
      const xv = new Map<number, string>();
      const offsets = new Set<number>();
      for (let q = 0; q < PX; q++) for (let kw = 0; kw < g.kw; kw++) offsets.add(q * g.sw + kw * g.dw);
      if (tex) {
        const texels = new Set([...offsets].map((d) => Math.floor(d / 4)));
        for (const tx of [...texels].sort((a, b) => a - b)) {
          L.push(`      let m${tx} = textureLoad(xT, vec2<i32>(i32((s0 * ${g.sw}u) / 4u) + ${tx}, i32(n * ${xRows}u + r * ${g.sh}u + (kh0 + ${k}u) * ${g.dh}u)), i32(ch));`);
        }
        for (const d of offsets) xv.set(d, `m${Math.floor(d / 4)}.${COMP[d % 4]}`);
      } else {
        L.push(`      let ih = i32(r * ${g.sh}u + (kh0 + ${k}u) * ${g.dh}u) - ${g.ph};`);
        L.push(`      let rowOk = ih >= 0 && ih < ${g.h};`);
        L.push(`      let rowBase = ((n * ${g.c}u + ch) * ${g.h}u + u32(clamp(ih, 0, ${g.h - 1}))) * ${g.w}u;`);
        L.push(`      let col0 = i32(s0 * ${g.sw}u) - ${g.pw};`);
        for (const d of [...offsets].sort((a, b) => a - b)) {
          L.push(`      let x${d} = select(0.0, x[rowBase + u32(clamp(col0 + ${d}, 0, ${g.w - 1}))], rowOk && col0 + ${d} >= 0 && col0 + ${d} < ${g.w});`);
          xv.set(d, `x${d}`);
        }
      }
      for (let o = 0; o < ot; o++) {
        for (let kw = 0; kw < g.kw; kw++) {
          const terms = [];
          for (let q = 0; q < PX; q++) terms.push(`${dyv[o][q]} * ${xv.get(q * g.sw + kw * g.dw)}`);
          L.push(`      ${acc(o, c, k, kw)} += ${terms.join(' + ')};`);
        }
      }
      L.push(`    }`);
    }
    L.push(`    }`);
  }
  L.push(`  }`);

  // Combine the lanes, then store (to the partials of this chunk, or straight to dw).
  const dest = (o: number, c: number, k: number, kw: number) =>
    `${chunks > 1 ? `chunk * ${wsize}u + ` : ''}((g * ${g.og}u + o0 + ${o}u) * ${g.cg}u + c0 + ${c}u) * ${g.kh * g.kw}u + (kh0 + ${k}u) * ${g.kw}u + ${kw}u`;
  const guard = (o: number, c: number) => {
    const conds = [];
    if (g.og % ot !== 0) conds.push(`o0 + ${o}u < ${g.og}u`);
    if (g.cg % ct !== 0) conds.push(`c0 + ${c}u < ${g.cg}u`);
    return conds.length ? conds.join(' && ') : 'true';
  };
  let i = 0;
  if (plan.reduce === 'subgroup') {
    for (let o = 0; o < ot; o++) for (let c = 0; c < ct; c++) for (let k = 0; k < kht; k++) for (let kw = 0; kw < g.kw; kw++) {
      const name = acc(o, c, k, kw);
      L.push(`  let s${name} = subgroupAdd(${name});`);
      // Spread the stores over the lanes (each store is a per-lane loop on lavapipe).
      L.push(`  if (li == ${i % wg}u && ${guard(o, c)}) { part[${dest(o, c, k, kw)}] = s${name}; }`);
      i++;
    }
  } else {
    accs.forEach((a, j) => L.push(`  red[${j * wg}u + li] = ${a};`));
    L.push('  workgroupBarrier();');
    for (let o = 0; o < ot; o++) for (let c = 0; c < ct; c++) for (let k = 0; k < kht; k++) for (let kw = 0; kw < g.kw; kw++) {
      L.push(`  if (li == ${i % wg}u && ${guard(o, c)}) {`);
      L.push(`    var total = 0.0;`);
      L.push(`    for (var l = 0u; l < ${wg}u; l++) { total += red[${i * wg}u + l]; }`);
      L.push(`    part[${dest(o, c, k, kw)}] = total;`);
      L.push(`  }`);
      i++;
    }
  }
  L.push('}');
  return { code: L.join('\n'), workgroups: [gx, gy] };
}

/** dw [O, C/groups, KH, KW] for conv2d geometry `g` (see the file comment), with the profile's conv2d variant. */
export function conv2dWeightGrad(dy: DeviceArray, x: DeviceArray, g: ConvGeometry): DeviceArray {
  const op = 'conv2dBackwardWeight';
  const wsize = g.o * g.cg * g.kh * g.kw;
  const dw = DeviceArray.empty([g.o, g.cg, g.kh, g.kw], 'f32', op);
  if (wsize === 0) return dw;
  if (dy.size === 0) {
    rt().fillWords(dw.buffer, wsize, 0);
    return dw;
  }
  if (profile().conv2d.variant === 'tiled') {
    // Split the N·OH·OW reduction until there are enough workgroups (counted in small tiles) to fill a big GPU.
    const tiles = g.groups * Math.ceil(g.og / GEMM_SMALL.bm) * Math.ceil((g.cg * g.kh * g.kw) / GEMM_SMALL.bn);
    const pixels = g.n * g.oh * g.ow;
    const chunks = Math.max(1, Math.min(Math.ceil(512 / tiles), Math.floor(pixels / 256), Math.floor(65535 / g.groups)));
    const perChunk = Math.ceil(pixels / chunks / 16) * 16;
    const used = Math.ceil(pixels / perChunk);
    const part = used > 1 ? DeviceArray.empty([used * wsize], 'f32', op) : dw;
    gemmWeightGrad(dy, x, g, part, used, perChunk);
    if (used > 1) {
      sumChunks(op, part, dw, used, wsize);
      part.dispose();
    }
    return dw;
  }
  const plan = planWeightGrad(g);
  const kernel = cachedKernel(`conv2d_weight_grad:${Object.values(g)}|${Object.values(plan)}`, () => weightGradKernel(g, plan));
  const part = plan.chunks > 1 ? DeviceArray.empty([plan.chunks * wsize], 'f32', op) : dw;
  if (plan.source === 'texture') {
    const tile = { ot: 1, px: PX, wg: 1, cu: 1 };
    const dyView = sourceTexture(dy, dyProblem(g), tile, 'dy');
    const xView = sourceTexture(x, forwardProblem(g), tile);
    rt().dispatch({ name: op, code: kernel.code, inputs: [], outputs: [part.buffer], resources: [dyView, xView], workgroups: kernel.workgroups });
  } else {
    rt().dispatch({ name: op, code: kernel.code, inputs: [dy.buffer, x.buffer], outputs: [part.buffer], workgroups: kernel.workgroups });
  }
  if (plan.chunks > 1) {
    sumChunks(op, part, dw, plan.chunks, wsize);
    part.dispose();
  }
  return dw;
}

/** dw[i] = Σ_k part[k·size + i]: combines the per-chunk partial gradients. */
function sumChunks(op: string, part: DeviceArray, dw: DeviceArray, chunks: number, size: number): void {
  const code = `@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> dw: array<f32>;
${gridMain()} {
  let i = ${linearIndex()};
  if (i >= ${size}u) { return; }
  var total = 0.0;
  for (var k = 0u; k < ${chunks}u; k++) { total += part[k * ${size}u + i]; }
  dw[i] = total;
}`;
  rt().dispatch({ name: `${op}_sum_chunks`, code, inputs: [part.buffer], outputs: [dw.buffer], workgroups: grid(size) });
}
