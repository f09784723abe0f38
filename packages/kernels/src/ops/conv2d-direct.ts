// The direct (implicit-GEMM) convolution kernel generator. Each invocation computes a register tile
// of OT output channels × PX consecutive output pixels of one row, reading the source and the packed
// weights directly (no im2col), with every shape baked in as a constant and the inner loops over
// kernel taps, channels and pixels fully unrolled.
//
// One generator serves the forward convolution and the transposed one (the input gradient):
//   forward:    Y[n, co, r, s] = Σ_{cr, kh, kw} Wt · X[n, cr, r·sh − ph + kh·dh, s·sw − pw + kw·dw]
//   transposed: Y[n, co, r, s] = Σ_{cr, kh, kw} Wt · X[n, cr, (r + ph − kh·dh)/sh, (s + pw − kw·dw)/sw]
//               (only where the divisions are exact)
// with Wt = packed[g][block][cr][kh][kw][o] (see packWeights), so both read the weights the same way.
import { rt } from '../runtime/current.ts';
import { profile } from '../runtime/profile.ts';
import type { ConvGeometry } from './conv2d-geometry.ts';

/** How the source tensor is read. */
export type SourceMode =
  /** Plain storage-buffer loads with bounds checks (portable). */
  | 'buffer'
  /** A zero-padded rgba32float texture array, 4 columns per texel: no bounds checks (lavapipe). */
  | 'texture';

/** How each invocation obtains the weights it multiplies by (they are the same across a workgroup). */
export type WeightMode =
  /** Ordinary loads at workgroup-uniform addresses (GPUs broadcast these in hardware). */
  | 'uniform'
  /** Each lane loads a different vec4 and `subgroupBroadcast` hands them to every lane: 4·S weights per load. */
  | 'subgroup';

export interface DirectTile {
  /** Output channels per invocation (a multiple of 4 for the subgroup weight mode). */
  ot: number;
  /** Consecutive output pixels per invocation. */
  px: number;
  /** Workgroup size (a multiple of the subgroup size for the subgroup weight mode). */
  wg: number;
  /** Reduction channels per loop iteration (weights for them are loaded together). */
  cu: number;
}

/** The problem one direct-conv dispatch solves, in the generic names of the comment above. */
export interface DirectProblem {
  transposed: boolean;
  n: number;
  groups: number;
  /** Output channels per group, output rows, output columns. */
  cog: number;
  r: number;
  s: number;
  /** Reduction (source) channels per group, source rows, source columns. */
  cr: number;
  hx: number;
  wx: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
}

export interface DirectVariant {
  source: SourceMode;
  weights: WeightMode;
  /** Where the subgroup weight mode reads the packed weights: a buffer, or a texture (lavapipe). */
  weightSource: 'buffer' | 'texture';
  tile: DirectTile;
  /** Subgroup size the weight broadcast is generated for. */
  subgroup: number;
  /** Store four output pixels per lane as one vec4 (needs px % 4 == 0 and s % 4 == 0). */
  vecStore: boolean;
}

/** The forward convolution of `g` as a direct-conv problem. */
export function forwardProblem(g: ConvGeometry): DirectProblem {
  return {
    transposed: false,
    n: g.n,
    groups: g.groups,
    cog: g.og,
    r: g.oh,
    s: g.ow,
    cr: g.cg,
    hx: g.h,
    wx: g.w,
    kh: g.kh,
    kw: g.kw,
    sh: g.sh,
    sw: g.sw,
    ph: g.ph,
    pw: g.pw,
    dh: g.dh,
    dw: g.dw,
  };
}

/** Kernel taps are unrolled when the kernel is at most the profile's `conv2d.unrollTaps`; larger ones loop over kernel rows. */
export function unrollsKernelRows(p: DirectProblem): boolean {
  return p.kh * p.kw <= profile().conv2d.unrollTaps;
}

/** Number of output-channel blocks per group. */
export function blocksPerGroup(p: DirectProblem, tile: DirectTile): number {
  return Math.ceil(p.cog / tile.ot);
}

/** Reduction channels per group rounded up to a multiple of the unroll (the padding has zero weights). */
export function paddedReduction(p: DirectProblem, tile: DirectTile): number {
  return Math.ceil(p.cr / tile.cu) * tile.cu;
}

/** Size, in floats, of the packed weight array the kernel reads. */
export function packedWeightSize(p: DirectProblem, tile: DirectTile): number {
  return p.groups * blocksPerGroup(p, tile) * paddedReduction(p, tile) * p.kh * p.kw * tile.ot;
}

/** Geometry of the zero-padded source texture for the 'texture' source mode (forward only). */
export interface SourceTexture {
  /** Texels per row (4 columns each). */
  width: number;
  /** Rows per image (the padded height); the texture holds n images stacked vertically. */
  rows: number;
  /** Array layers: one per source channel. */
  layers: number;
}

export function sourceTextureShape(p: DirectProblem, tile: DirectTile): SourceTexture {
  const tilesPerRow = Math.ceil(p.s / tile.px);
  const lastCol = (tilesPerRow * tile.px - 1) * p.sw + (p.kw - 1) * p.dw;
  return {
    width: Math.floor(lastCol / 4) + 1,
    rows: (p.r - 1) * p.sh + (p.kh - 1) * p.dh + 1,
    layers: p.groups * p.cr,
  };
}

/** Whether the 'texture' source mode can serve this problem with this tile (alignment and size limits). */
export function textureFits(p: DirectProblem, tile: DirectTile): boolean {
  if (p.transposed || (tile.px * p.sw) % 4 !== 0) return false;
  const t = sourceTextureShape(p, tile);
  const lim = rt().info.limits;
  return t.width <= lim.maxTextureDimension2D && t.rows * p.n <= lim.maxTextureDimension2D && t.layers <= lim.maxTextureArrayLayers;
}

/** Weights read per loop iteration of the kernel (floats). */
export function weightSegment(p: DirectProblem, tile: DirectTile): number {
  return tile.cu * (unrollsKernelRows(p) ? p.kh : 1) * p.kw * tile.ot;
}

/** The weight texture: a row per loop iteration (segment / 4 texels), a layer per channel block. */
export function weightTextureShape(p: DirectProblem, tile: DirectTile, segment = weightSegment(p, tile)): SourceTexture {
  const crp = paddedReduction(p, tile);
  return {
    width: segment / 4,
    rows: unrollsKernelRows(p) ? crp / tile.cu : crp * p.kh,
    layers: p.groups * blocksPerGroup(p, tile),
  };
}

/** Whether the packed weights fit the texture limits (the segment is whole texels when ot % 4 == 0). */
export function weightTextureFits(p: DirectProblem, tile: DirectTile): boolean {
  if (tile.ot % 4 !== 0) return false;
  const t = weightTextureShape(p, tile);
  const lim = rt().info.limits;
  return t.width <= lim.maxTextureDimension2D && t.rows <= lim.maxTextureDimension2D && t.layers <= lim.maxTextureArrayLayers;
}

export interface DirectKernel {
  code: string;
  workgroups: [number, number, number];
}

/** Workgroup grid: x (folded into z past the 65,535 limit) over pixel tiles, y over channel blocks. */
function tileGrid(tiles: number, wg: number): { gx: number; gz: number } {
  const groups = Math.ceil(tiles / wg);
  const gz = Math.ceil(groups / 65535);
  return { gx: Math.ceil(groups / gz), gz };
}

const COMP = ['x', 'y', 'z', 'w'];

/**
 * WGSL for one direct convolution. Bindings: source (buffer or texture), packed weights,
 * [bias], then the output.
 */
export function directKernel(p: DirectProblem, v: DirectVariant, hasBias: boolean): DirectKernel {
  const { ot, px, wg, cu } = v.tile;
  const S = v.subgroup;
  const nb = blocksPerGroup(p, v.tile);
  const crp = paddedReduction(p, v.tile);
  const tilesPerRow = Math.ceil(p.s / px);
  const tiles = p.n * p.r * tilesPerRow;
  const unrollRows = unrollsKernelRows(p);
  const khUnrolled = unrollRows ? p.kh : 1;
  // Weights for one loop iteration: cu channels × (all taps, or one kernel row) × ot.
  const segment = cu * khUnrolled * p.kw * ot;
  const tex = v.source === 'texture';
  const sg = v.weights === 'subgroup';
  const wTex = v.weightSource === 'texture';
  if (wTex && !sg) throw new Error('conv2d: weights come from a texture only in the subgroup weight mode');
  if (tex && p.transposed) throw new Error('conv2d: the texture source mode only serves forward convolutions');
  if (!unrollRows && cu !== 1) throw new Error('conv2d: kernels that loop over kernel rows take one reduction channel per iteration');
  if (sg && (ot % 4 !== 0 || wg % S !== 0)) throw new Error(`conv2d: subgroup weight mode needs ot % 4 == 0 and wg % ${S} == 0`);
  if (v.vecStore && (px % 4 !== 0 || p.s % 4 !== 0)) throw new Error('conv2d: vec4 stores need px and the row length divisible by 4');
  const texShape = tex ? sourceTextureShape(p, v.tile) : null;
  const { gx, gz } = tileGrid(tiles, wg);
  const wTotal = packedWeightSize(p, v.tile);

  const L: string[] = [];
  if (sg) L.push('enable subgroups;');
  // Runtime binding order: input buffers, the output buffer, then the textures (extra resources:
  // source first, then weights).
  let b = 0;
  if (!tex) L.push(`@group(0) @binding(${b++}) var<storage, read> src: array<f32>;`);
  // Weights are read as vec4 whenever a segment is whole vec4s (4× fewer loads; ot is usually 4 or 8).
  const wVec = sg || segment % 4 === 0;
  if (!wTex) L.push(`@group(0) @binding(${b++}) var<storage, read> wts: array<${wVec ? 'vec4<f32>' : 'f32'}>;`);
  if (hasBias) L.push(`@group(0) @binding(${b++}) var<storage, read> bias: array<f32>;`);
  L.push(`@group(0) @binding(${b++}) var<storage, read_write> dst: array<${v.vecStore ? 'vec4<f32>' : 'f32'}>;`);
  if (tex) L.push(`@group(0) @binding(${b++}) var src: texture_storage_2d_array<rgba32float, read>;`);
  if (wTex) L.push(`@group(0) @binding(${b++}) var wtex: texture_storage_2d_array<rgba32float, read>;`);
  L.push(`@compute @workgroup_size(${wg})`);
  L.push(
    `fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>${sg ? ', @builtin(subgroup_invocation_id) lane: u32' : ''}) {`,
  );
  // Out-of-range tiles still run (clamped) so subgroup operations see full subgroups; they skip the store.
  L.push(`  let tile = (wid.z * ${gx}u + wid.x) * ${wg}u + li;`);
  L.push(`  let t = min(tile, ${tiles - 1}u);`);
  L.push(`  let n = t / ${p.r * tilesPerRow}u;`);
  L.push(`  let r = (t / ${tilesPerRow}u) % ${p.r}u;`);
  L.push(`  let s0 = (t % ${tilesPerRow}u) * ${px}u;`);
  L.push(`  let g = wid.y / ${nb}u;`);
  L.push(`  let co0 = (wid.y % ${nb}u) * ${ot}u;`);
  // Accumulators start at the bias.
  for (let o = 0; o < ot; o++) {
    const init = hasBias ? `bias[g * ${p.cog}u + min(co0 + ${o}u, ${p.cog - 1}u)]` : '0.0';
    L.push(`  let b${o} = ${init};`);
    for (let q = 0; q < px; q++) L.push(`  var a${o}_${q} = b${o};`);
  }
  if (!wTex) L.push(`  let wseg0 = wid.y * ${crp * p.kh * p.kw * ot}u;`);
  if (tex) L.push(`  let trow = n * ${texShape!.rows}u + r * ${p.sh}u;`, `  let tx0 = i32((s0 * ${p.sw}u) / 4u);`);
  else L.push(`  let xplane0 = (n * ${p.groups * p.cr}u + g * ${p.cr}u) * ${p.hx * p.wx}u;`);

  L.push(`  for (var c0 = 0u; c0 < ${crp}u; c0 += ${cu}u) {`);
  if (!unrollRows) L.push(`   for (var kr = 0u; kr < ${p.kh}u; kr++) {`);
  // Weight j of this iteration's segment, as a WGSL expression.
  let weight: (j: number) => string;
  if (wTex) {
    const row = unrollRows ? `c0 / ${cu}u` : `c0 * ${p.kh}u + kr`;
    weight = textureWeights(L, row, segment, S);
  } else {
    const segStart = unrollRows ? `wseg0 + c0 * ${segment / cu}u` : `wseg0 + (c0 * ${p.kh}u + kr) * ${p.kw * ot}u`;
    L.push(`    let wseg = ${segStart};`);
    weight = declareWeights(L, sg, segment, S, wTotal);
  }
  for (let ci = 0; ci < cu; ci++) {
    L.push(`    {`);
    L.push(`    let c = min(c0 + ${ci}u, ${p.cr - 1}u);`);
    if (tex) L.push(`    let layer = i32(g * ${p.cr}u + c);`);
    else L.push(`    let plane = xplane0 + c * ${p.hx * p.wx}u;`);
    for (let khi = 0; khi < khUnrolled; khi++) {
      const khExpr = unrollRows ? `${khi}u` : 'kr';
      L.push(`    {`);
      const values = tex ? textureRow(L, p, v.tile, khExpr) : p.transposed ? transposedRow(L, p, v.tile, khExpr) : bufferRow(L, p, v.tile, khExpr);
      for (let kwi = 0; kwi < p.kw; kwi++) {
        for (let o = 0; o < ot; o++) {
          const uses: string[] = [];
          for (let q = 0; q < px; q++) {
            const val = values(q, kwi);
            if (val !== null) uses.push(`      a${o}_${q} += wv * ${val};`);
          }
          if (uses.length === 0) continue;
          const j = ((ci * khUnrolled + khi) * p.kw + kwi) * ot + o;
          L.push(`     { let wv = ${weight(j)};`, ...uses, '     }');
        }
      }
      L.push(`    }`);
    }
    L.push(`    }`);
  }
  if (!unrollRows) L.push(`   }`);
  L.push(`  }`);

  // Store.
  L.push(`  if (tile < ${tiles}u) {`);
  L.push(`    let obase = ((n * ${p.groups * p.cog}u + g * ${p.cog}u + co0) * ${p.r}u + r) * ${p.s}u + s0;`);
  for (let o = 0; o < ot; o++) {
    const guard = p.cog % ot === 0 ? '' : `if (co0 + ${o}u < ${p.cog}u) `;
    if (v.vecStore) {
      for (let q = 0; q < px; q += 4) {
        const tailGuard = p.s % px === 0 ? '' : `if (s0 + ${q}u < ${p.s}u) `;
        L.push(
          `    ${guard}{ ${tailGuard}{ dst[(obase + ${o * p.r * p.s + q}u) / 4u] = vec4<f32>(a${o}_${q}, a${o}_${q + 1}, a${o}_${q + 2}, a${o}_${q + 3}); } }`,
        );
      }
    } else {
      for (let q = 0; q < px; q++) {
        const tailGuard = p.s % px === 0 ? '' : `if (s0 + ${q}u < ${p.s}u) `;
        L.push(`    ${guard}{ ${tailGuard}{ dst[obase + ${o * p.r * p.s + q}u] = a${o}_${q}; } }`);
      }
    }
  }
  L.push(`  }`);
  L.push(`}`);
  return { code: L.join('\n'), workgroups: [gx, p.groups * nb, gz] };
}

/** Emits the weight loads of one loop iteration; returns the expression of segment weight j. */
function declareWeights(L: string[], sg: boolean, segment: number, S: number, total: number): (j: number) => string {
  if (!sg && segment % 4 !== 0) return (j) => `wts[wseg + ${j}u]`;
  if (!sg) {
    for (let i = 0; i < segment / 4; i++) L.push(`    let wu${i} = wts[wseg / 4u + ${i}u];`);
    return (j) => `wu${j >> 2}.${COMP[j % 4]}`;
  }
  const perLoad = 4 * S;
  const loads = Math.ceil(segment / perLoad);
  const lastVec = total / 4 - 1;
  for (let i = 0; i < loads; i++) {
    L.push(`    let wl${i} = wts[min(wseg / 4u + ${i * S}u + lane, ${lastVec}u)];`);
  }
  return (j) => {
    const i = Math.floor(j / perLoad);
    const k = j % perLoad;
    return `subgroupBroadcast(wl${i}.${COMP[k % 4]}, ${Math.floor(k / 4)}u)`;
  };
}

/** Subgroup weight mode from the weight texture: lane l fetches texel l of the row, then broadcasts. */
function textureWeights(L: string[], row: string, segment: number, S: number): (j: number) => string {
  const perLoad = 4 * S;
  const loads = Math.ceil(segment / perLoad);
  const lastTexel = segment / 4 - 1;
  for (let i = 0; i < loads; i++) {
    L.push(`    let wl${i} = textureLoad(wtex, vec2<i32>(i32(min(${i * S}u + lane, ${lastTexel}u)), i32(${row})), i32(wid.y));`);
  }
  return (j) => {
    const i = Math.floor(j / perLoad);
    const k = j % perLoad;
    return `subgroupBroadcast(wl${i}.${COMP[k % 4]}, ${Math.floor(k / 4)}u)`;
  };
}

type RowValues = (q: number, kw: number) => string | null;

/** Forward, buffer source: loads each distinct column of kernel row `kh` once, zero outside the input. */
function bufferRow(L: string[], p: DirectProblem, tile: DirectTile, kh: string): RowValues {
  L.push(`      let row = i32(r * ${p.sh}u + ${kh} * ${p.dh}u) - ${p.ph};`);
  L.push(`      let rowOk = row >= 0 && row < ${p.hx};`);
  L.push(`      let rowBase = plane + u32(clamp(row, 0, ${p.hx - 1})) * ${p.wx}u;`);
  L.push(`      let col0 = i32(s0 * ${p.sw}u) - ${p.pw};`);
  const offsets = new Map<number, string>();
  for (let q = 0; q < tile.px; q++) {
    for (let k = 0; k < p.kw; k++) {
      const d = q * p.sw + k * p.dw;
      if (offsets.has(d)) continue;
      const name = `x${d}`;
      offsets.set(d, name);
      L.push(`      let ${name} = select(0.0, src[rowBase + u32(clamp(col0 + ${d}, 0, ${p.wx - 1}))], rowOk && col0 + ${d} >= 0 && col0 + ${d} < ${p.wx});`);
    }
  }
  return (q, k) => offsets.get(q * p.sw + k * p.dw)!;
}

/** Forward, texture source: padded coordinates, so every tap is in range; one texel feeds 4 columns. */
function textureRow(L: string[], p: DirectProblem, tile: DirectTile, kh: string): RowValues {
  const texels = new Set<number>();
  for (let q = 0; q < tile.px; q++) for (let k = 0; k < p.kw; k++) texels.add(Math.floor((q * p.sw + k * p.dw) / 4));
  const row = `i32(trow + ${kh} * ${p.dh}u)`;
  for (const t of [...texels].sort((a, b) => a - b)) L.push(`      let m${t} = textureLoad(src, vec2<i32>(tx0 + ${t}, ${row}), layer);`);
  return (q, k) => {
    const d = q * p.sw + k * p.dw;
    return `m${Math.floor(d / 4)}.${COMP[d % 4]}`;
  };
}

/** Transposed, buffer source: only taps whose position divides exactly by the stride contribute. */
function transposedRow(L: string[], p: DirectProblem, tile: DirectTile, kh: string): RowValues {
  L.push(`      let num = i32(r + ${p.ph}u) - i32(${kh} * ${p.dh}u);`);
  L.push(`      let row = num / ${p.sh};`);
  L.push(`      let rowOk = num >= 0 && num % ${p.sh} == 0 && row < ${p.hx};`);
  L.push(`      let rowBase = plane + u32(clamp(row, 0, ${p.hx - 1})) * ${p.wx}u;`);
  // tile.px is a multiple of sw, so s0 / sw is exact and each (q, kw) pair has a constant offset.
  L.push(`      let col0 = i32(s0 / ${p.sw}u);`);
  const names = new Map<number, string>();
  const pick = new Map<string, string | null>();
  for (let q = 0; q < tile.px; q++) {
    for (let k = 0; k < p.kw; k++) {
      const t = q + p.pw - k * p.dw;
      if (((t % p.sw) + p.sw) % p.sw !== 0) {
        pick.set(`${q},${k}`, null);
        continue;
      }
      const off = Math.floor(t / p.sw);
      if (!names.has(off)) {
        const name = `x${off < 0 ? 'm' + -off : off}`;
        names.set(off, name);
        L.push(`      let ${name} = select(0.0, src[rowBase + u32(clamp(col0 + ${off}, 0, ${p.wx - 1}))], rowOk && col0 + ${off} >= 0 && col0 + ${off} < ${p.wx});`);
      }
      pick.set(`${q},${k}`, names.get(off)!);
    }
  }
  return (q, k) => pick.get(`${q},${k}`) ?? null;
}
