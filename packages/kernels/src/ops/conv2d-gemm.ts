// Convolution as an implicit GEMM with workgroup-memory tiles: the 'tiled' variant, meant for
// discrete GPUs (NVIDIA), where staging operands in workgroup memory (double-buffered) and a 4×4 or
// 8×8 register block per thread is the classic SGEMM recipe. The im2col operand is never materialised: each tile load
// gathers its elements straight from the image (zero outside it), with every shape baked in. The
// tiles, register blocks and k loop are the GEMM generator's (gemm/kernel.ts, shared with matmul);
// this file supplies the gathered operands, the group/chunk decode and the output addressing.
//
//   C[g][m][n] = Σ_k A[g][m][k] · B[g][k][n]     (per group g, and per reduction chunk for split-K)
//
// The three convolution products differ only in how A, B and the result are addressed:
//   forward / input gradient: m = output channel, k = (source channel, kh, kw), n = output pixel,
//     A = packed weights, B = source pixels (gathered, strided and dilated, or transposed);
//   weight gradient: m = output channel, k = output pixel (split into chunks), n = (c, kh, kw),
//     A = dy, B = x gathered.
import { DeviceArray } from '../array.ts';
import { rt } from '../runtime/current.ts';
import { profile } from '../runtime/profile.ts';
import type { DirectProblem } from './conv2d-direct.ts';
import type { ConvGeometry } from './conv2d-geometry.ts';
import { CONV_SPELLING, gemmBody } from './gemm/kernel.ts';
import { gatheredOperand } from './gemm/operands.ts';
import { pickGemmTile } from './gemm/tile.ts';

/** WGSL snippets describing one implicit GEMM. Expressions may use `g` and `chunk`. */
interface ImplicitGemm {
  name: string;
  m: number;
  n: number;
  /** Reduction length of one chunk, and number of chunks (split-K). */
  k: number;
  chunks: number;
  groups: number;
  /** Element A[m][k] (f32, 0 when out of range); `m`, `k` are u32 expressions (k absolute). */
  a: (m: string, k: string) => string;
  /** Element B[k][n] likewise. */
  b: (k: string, n: string) => string;
  /** Statement storing value `v` at (m, n), both in range. */
  store: (m: string, n: string, v: string) => string;
  inputs: Array<[string, GPUBuffer]>;
  output: GPUBuffer;
  /** Module-scope WGSL the expressions call. */
  helpers?: string;
}

function dispatchGemm(s: ImplicitGemm): void {
  // The profile's tile when tuned, else the large one from the profile's threshold of big tiles.
  const { gemm, gemmBigTilesFrom } = profile().conv2d;
  const cfg = gemm ?? pickGemmTile(s.m, s.n, s.groups * s.chunks, gemmBigTilesFrom);
  const { bm, bn, bk } = cfg;
  const body = gemmBody({
    name: s.name,
    tile: cfg,
    // The fast thread index runs along k for A (consecutive weights / pixels) and along n for B
    // (consecutive pixels / taps), so global reads coalesce.
    a: gatheredOperand('a', 'k', { span: s.m, k: s.k }, s.a),
    b: gatheredOperand('b', 'span', { span: s.n, k: s.k }, (n, k) => s.b(k, n)),
    kTiles: `${Math.ceil(s.k / bk)}u`,
    spelling: CONV_SPELLING,
  });
  const tilesN = Math.ceil(s.n / bn);
  const tilesM = Math.ceil(s.m / bm);
  const z = s.groups * s.chunks;
  if (z > 65535 || tilesM > 65535 || tilesN > 65535) throw new Error(`${s.name}: problem too large for one dispatch`);
  const decl = s.inputs.map(([name], i) => `@group(0) @binding(${i}) var<storage, read> ${name}: array<f32>;`);
  const stores: string[] = [];
  body.rows.forEach((row, r) => {
    body.cols.forEach((col, j) => {
      stores.push(`{ let m = m0 + ${row}; let nb = n0 + ${col};`);
      for (let q = 0; q < 4; q++) {
        stores.push(`  { let n = nb + ${q}u; if (m < ${s.m}u && n < ${s.n}u) { ${s.store('m', 'n', `${body.acc(r, j)}[${q}]`)} } }`);
      }
      stores.push('}');
    });
  });
  const code = `${decl.join('\n')}
@group(0) @binding(${s.inputs.length}) var<storage, read_write> out: array<f32>;
${s.helpers ?? ''}
// As[k][m] and Bs[k][n] as vec4 rows: each thread reads 4 rows (columns) per load.
${body.tiles}
@compute @workgroup_size(${body.threadsN * body.threadsM})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let n0 = wid.x * ${bn}u;
  let m0 = wid.y * ${bm}u;
  let g = wid.z / ${s.chunks}u;
  let chunk = wid.z % ${s.chunks}u;
  let kbase = chunk * ${s.k}u;
  let tx = lid % ${body.threadsN}u;
  let ty = lid / ${body.threadsN}u;
  ${body.regs.join(' ')}
  ${body.accs.join('\n  ')}
  ${body.mainLoop}
  ${stores.join('\n  ')}
}`;
  rt().dispatch({ name: s.name, code, inputs: s.inputs.map(([, b]) => b), outputs: [s.output], workgroups: [tilesN, tilesM, z] });
}

/**
 * A direct-conv problem (forward, or transposed) as an implicit GEMM. `packed` holds the weights
 * as [groups][cog][cr·kh·kw] (packWeights with ot = 1).
 */
export function gemmConv(
  p: DirectProblem,
  src: DeviceArray,
  packed: DeviceArray,
  bias: DeviceArray | null,
  out: DeviceArray,
): void {
  const taps = p.kh * p.kw;
  const K = p.cr * taps;
  const pixels = p.n * p.r * p.s;
  // n → (img, r, s); k → (c, kh, kw), all divisions by constants.
  const source = (k: string, n: string) => {
    const img = `(${n} / ${p.r * p.s}u)`;
    const r = `((${n} / ${p.s}u) % ${p.r}u)`;
    const s = `(${n} % ${p.s}u)`;
    const c = `(${k} / ${taps}u)`;
    const kh = `((${k} % ${taps}u) / ${p.kw}u)`;
    const kw = `(${k} % ${p.kw}u)`;
    const plane = `((${img} * ${p.groups * p.cr}u + g * ${p.cr}u + ${c}) * ${p.hx}u)`;
    if (!p.transposed) {
      const ih = `(i32(${r} * ${p.sh}u + ${kh} * ${p.dh}u) - ${p.ph})`;
      const iw = `(i32(${s} * ${p.sw}u + ${kw} * ${p.dw}u) - ${p.pw})`;
      return `load_src(${plane}, ${ih}, ${iw}, true)`;
    }
    const nh = `(i32(${r} + ${p.ph}u) - i32(${kh} * ${p.dh}u))`;
    const nw = `(i32(${s} + ${p.pw}u) - i32(${kw} * ${p.dw}u))`;
    return `load_src(${plane}, ${nh} / ${p.sh}, ${nw} / ${p.sw}, ${nh} >= 0 && ${nw} >= 0 && ${nh} % ${p.sh} == 0 && ${nw} % ${p.sw} == 0)`;
  };
  const inputs: Array<[string, GPUBuffer]> = [
    ['src', src.buffer],
    ['wts', packed.buffer],
  ];
  if (bias) inputs.push(['bias', bias.buffer]);
  const spec: ImplicitGemm = {
    name: 'conv2d_gemm',
    m: p.cog,
    n: pixels,
    k: K,
    chunks: 1,
    groups: p.groups,
    a: (m, k) => `wts[(g * ${p.cog}u + ${m}) * ${K}u + ${k}]`,
    b: source,
    store: (m, n, v) =>
      `out[((${n} / ${p.r * p.s}u) * ${p.groups * p.cog}u + g * ${p.cog}u + ${m}) * ${p.r * p.s}u + ${n} % ${p.r * p.s}u] = ${v}${bias ? ` + bias[g * ${p.cog}u + ${m}]` : ''};`,
    inputs,
    output: out.buffer,
  };
  dispatchGemm(withSourceLoader(spec, p.hx, p.wx));
}

/** Adds `load_src(planeRow0, row, col, ok)`: a bounds-checked read of the source (0 outside). */
function withSourceLoader(s: ImplicitGemm, hx: number, wx: number): ImplicitGemm {
  const helper = `fn load_src(plane: u32, row: i32, col: i32, ok: bool) -> f32 {
  if (!ok || row < 0 || row >= ${hx} || col < 0 || col >= ${wx}) { return 0.0; }
  return src[(plane + u32(row)) * ${wx}u + u32(col)];
}`;
  return { ...s, helpers: helper };
}

/**
 * dw [O, cg, kh, kw] = Σ_pixels dy · im2col(x) as a split-K implicit GEMM: the N·OH·OW reduction is
 * cut into `chunks` slices whose partial products are summed by a second pass.
 */
export function gemmWeightGrad(
  dy: DeviceArray,
  x: DeviceArray,
  g: ConvGeometry,
  out: DeviceArray,
  chunks: number,
  perChunk: number,
): void {
  const taps = g.kh * g.kw;
  const K = g.cg * taps;
  const pixels = g.n * g.oh * g.ow;
  const plane = g.oh * g.ow;
  const dyAt = (m: string, k: string) =>
    `select(0.0, dy[((${k} / ${plane}u) * ${g.o}u + g * ${g.og}u + ${m}) * ${plane}u + ${k} % ${plane}u], ${k} < ${pixels}u)`;
  const xAt = (k: string, n: string) => {
    const img = `(${k} / ${plane}u)`;
    const r = `((${k} / ${g.ow}u) % ${g.oh}u)`;
    const s = `(${k} % ${g.ow}u)`;
    const c = `(${n} / ${taps}u)`;
    const kh = `((${n} % ${taps}u) / ${g.kw}u)`;
    const kw = `(${n} % ${g.kw}u)`;
    const ih = `(i32(${r} * ${g.sh}u + ${kh} * ${g.dh}u) - ${g.ph})`;
    const iw = `(i32(${s} * ${g.sw}u + ${kw} * ${g.dw}u) - ${g.pw})`;
    return `load_src(((${img} * ${g.c}u + g * ${g.cg}u + ${c}) * ${g.h}u), ${ih}, ${iw}, ${k} < ${pixels}u)`;
  };
  const wsize = g.o * K;
  const spec: ImplicitGemm = {
    name: 'conv2dBackwardWeight_gemm',
    m: g.og,
    n: K,
    k: perChunk,
    chunks,
    groups: g.groups,
    a: dyAt,
    b: xAt,
    store: (m, n, v) => `out[${chunks > 1 ? `chunk * ${wsize}u + ` : ''}(g * ${g.og}u + ${m}) * ${K}u + ${n}] = ${v};`,
    inputs: [
      ['dy', dy.buffer],
      ['src', x.buffer],
    ],
    output: out.buffer,
  };
  dispatchGemm(withSourceLoader(spec, g.h, g.w));
}
