// WGSL generators for the fused attention kernels (forward, dQ, dK/dV, and the row dot Δ).
//
// Every kernel has the same shape: each row of one side (query rows for the forward and dQ, key
// rows for dK/dV) is owned by `lanes` invocations, each holding a D/lanes slice of that row's
// vectors in registers (D baked in, unrolled); the rows of the other side are streamed past in
// steps of a few rows, with an online softmax in the forward. How a streamed row reaches every
// invocation is the "feed":
//  - 'subgroup' (lavapipe): the workgroup is one 8-lane subgroup; lane l fetches streamed row
//    jb + l from a row texture (16-byte texels) and the rows are shared by subgroup broadcast or
//    shuffle. No workgroup memory, no barriers.
//  - 'tiled' (portable): the workgroup stages a tile of streamed rows in workgroup memory between
//    two barriers, then every invocation reads them at (nearly) uniform addresses.
// Dot products over a row split across lanes are finished with subgroupShuffleXor.
import { cachedKernel, kernelSource } from '../../runtime/kernel-source.ts';
import { Params } from '../../wgsl.ts';

export type Feed = 'subgroup' | 'tiled';

export interface KernelConfig {
  feed: Feed;
  /** Head dimension (baked in). */
  d: number;
  /** Owned rows per invocation group of `lanes` invocations. */
  rows: number;
  /** Invocations sharing one owned row (1, 2, 4 or 8; > 1 needs subgroups and the 'tiled' feed). */
  lanes: number;
  /** Invocations per workgroup; 8 (one subgroup) for the 'subgroup' feed. */
  workgroup: number;
  /** Streamed rows staged per tile ('tiled' feed only; a multiple of `step`). */
  tile: number;
  /**
   * Streamed rows per unrolled step: the online softmax rescales once per step. Fewer means less
   * generated code (lavapipe's compile time grows fast with it) and more loop iterations.
   */
  step: number;
  hasMask: boolean;
}

/** The block sizes of a config (what tuning may replace). */
export type AttentionBlocks = Pick<KernelConfig, 'rows' | 'lanes' | 'workgroup' | 'tile' | 'step'>;

/** Rows of the owned side covered by one workgroup. */
export const groupRows = (c: KernelConfig) => (c.workgroup / c.lanes) * c.rows;

/** The uniform block every attention kernel reads. */
export function attentionParams(v: {
  sq: number;
  sk: number;
  heads: number;
  bh0: number;
  causal: boolean;
  scale: number;
}): Params {
  return new Params()
    .u32('sq', v.sq)
    .u32('sk', v.sk)
    .u32('heads', v.heads)
    .u32('bh0', v.bh0)
    .u32('causal', v.causal ? 1 : 0)
    .f32('scale', v.scale)
    .f32('negInf', -Infinity); // WGSL constants cannot be infinite; the lse of an all-masked row is -inf
}

/** Logit of a masked (query, key) pair: finite, so that max/subtract never meet inf − inf. */
const NEG = '-3.0e38';
/** lse of a padding query row: exp(s − BIG) is 0. */
const BIG = '3.0e38';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Register layout of one owned row: `chunks` vec4 per invocation, `lanes` invocations per row. */
class RowLayout {
  readonly d4: number;
  readonly chunks: number;
  /** vec4 per row once padded to whole chunks (the stride of staged rows). */
  readonly d4p: number;
  constructor(
    readonly d: number,
    readonly lanes: number,
  ) {
    this.d4 = Math.ceil(d / 4);
    this.chunks = Math.ceil(this.d4 / lanes);
    this.d4p = this.chunks * lanes;
  }

  /** WGSL index of this invocation's chunk c within the row, in vec4 units. */
  vec4Index(c: number): string {
    return this.lanes === 1 ? `${c}u` : `part * ${this.chunks}u + ${c}u`;
  }

  /** `let <prefix>_<c> = …`: this invocation's slice of row `row` of a [*, D] tensor, zero past D. */
  load(tensor: string, row: string, prefix: string, factor = ''): string[] {
    const { d, d4, lanes } = this;
    return range(this.chunks).map((c) => {
      const g = this.vec4Index(c);
      let value: string;
      if (d % 4 === 0) {
        const padded = this.d4p > d4;
        value = padded ? `select(vec4<f32>(0.0), ${tensor}[${row} * ${d4}u + min(${g}, ${d4 - 1}u)], ${g} < ${d4}u)` : `${tensor}[${row} * ${d4}u + ${g}]`;
      } else if (lanes === 1) {
        value = `vec4<f32>(${range(4).map((i) => (4 * c + i < d ? `${tensor}[${row} * D + ${4 * c + i}u]` : '0.0')).join(', ')})`;
      } else {
        // The column is clamped so that the (discarded) loads past D stay inside the row.
        const el = (i: number) => `select(0.0, ${tensor}[${row} * D + min((${g}) * 4u + ${i}u, D - 1u)], (${g}) * 4u + ${i}u < D)`;
        value = `vec4<f32>(${range(4).map(el).join(', ')})`;
      }
      return `let ${prefix}_${c} = ${value}${factor};`;
    });
  }

  /** Stores this invocation's slice `<prefix>_<c>` × `factor` into row `row` (the part inside D). */
  store(tensor: string, row: string, prefix: string, factor: string): string[] {
    const { d, d4, lanes } = this;
    const out: string[] = [];
    for (const c of range(this.chunks)) {
      const g = this.vec4Index(c);
      if (d % 4 === 0) {
        const st = `${tensor}[${row} * ${d4}u + ${g}] = ${prefix}_${c} * ${factor};`;
        out.push(this.d4p > d4 ? `if (${g} < ${d4}u) { ${st} }` : st);
      } else {
        for (const i of range(4)) {
          const st = (col: string) => `${tensor}[${row} * D + ${col}] = ${prefix}_${c}.${'xyzw'[i]} * ${factor};`;
          if (lanes === 1) {
            if (4 * c + i < d) out.push(st(`${4 * c + i}u`));
          } else {
            out.push(`if ((${g}) * 4u + ${i}u < D) { ${st(`(${g}) * 4u + ${i}u`)} }`);
          }
        }
      }
    }
    return out;
  }

  /** Statements finishing per-lane partial sums `names` into whole-row sums (all lanes of the row). */
  reduce(names: string[]): string[] {
    const out: string[] = [];
    for (let m = 1; m < this.lanes; m *= 2) out.push(names.map((n) => `${n} += subgroupShuffleXor(${n}, ${m}u);`).join(' '));
    return out;
  }
}

interface Stream {
  /** Tensors streamed row by row: texture `t_<name>` ('subgroup') or storage `<name>` ('tiled'). */
  vecs: string[];
  /** Per-streamed-row scalars; `load(i)` is a WGSL f32 expression for row i (which may be ≥ rows). */
  scalars: Array<{ name: string; load: (i: string) => string }>;
  /** Number of streamed rows (WGSL expression). */
  rows: string;
  /** First and end streamed row (WGSL expressions, uniform over the workgroup). */
  start: string;
  end: string;
}

/** How the body reads the current step: streamed rows j0 … j0+step-1. */
interface Access {
  /** This invocation's chunk c of streamed row j0 + j. */
  vec(name: string, j: number, c: number): string;
  scalar(name: string, j: number): string;
}

interface KernelSpec {
  inputs: string[];
  outputs: string[];
  stream: Stream;
  prologue: string[];
  body: (a: Access) => string[];
  epilogue: string[];
}

/** A generated kernel and the names of its bindings, in binding order. */
export interface Kernel {
  code: string;
  /** Storage buffers read, then written; then the params; then row textures of these tensors. */
  inputs: string[];
  outputs: string[];
  textures: string[];
}

/** Tensors with rows of D floats; bound as vec4 arrays when D % 4 = 0 (one load per 4 floats). */
const ROW_TENSORS = new Set(['q', 'k', 'v', 'out', 'dout', 'dq', 'dk', 'dv']);

function buildKernel(c: KernelConfig, rl: RowLayout, spec: KernelSpec): Kernel {
  const { stream } = spec;
  const subgroup = c.feed === 'subgroup';
  if (subgroup && (c.lanes !== 1 || c.workgroup !== 8 || 8 % c.step !== 0)) {
    throw new Error(`attention: the subgroup feed needs lanes = 1, workgroup = 8 and a step dividing 8`);
  }
  if (!subgroup && c.tile % c.step !== 0) throw new Error(`attention: tile ${c.tile} is not a multiple of step ${c.step}`);
  const vecRows = c.d % 4 === 0;
  const type = (n: string) => (vecRows && ROW_TENSORS.has(n) ? 'vec4<f32>' : 'f32');
  const decl: string[] = [];
  const inputs = [...spec.inputs, ...(subgroup ? [] : stream.vecs)];
  inputs.forEach((n, i) => decl.push(`@group(0) @binding(${i}) var<storage, read> ${n}: array<${type(n)}>;`));
  spec.outputs.forEach((n, i) => decl.push(`@group(0) @binding(${inputs.length + i}) var<storage, read_write> ${n}: array<${type(n)}>;`));
  const paramsBinding = inputs.length + spec.outputs.length;
  decl.push(attentionParams({ sq: 0, sk: 0, heads: 0, bh0: 0, causal: false, scale: 0 }).decl(paramsBinding));
  if (subgroup) {
    stream.vecs.forEach((n, i) =>
      decl.push(`@group(0) @binding(${paramsBinding + 1 + i}) var t_${n}: texture_storage_2d_array<rgba32float, read>;`),
    );
  } else {
    for (const n of stream.vecs) decl.push(`var<workgroup> sh_${n}: array<vec4<f32>, ${c.tile * rl.d4p}>;`);
    for (const s of stream.scalars) decl.push(`var<workgroup> shs_${s.name}: array<f32, ${c.tile}>;`);
  }

  const loop: string[] = [];
  if (subgroup) {
    // Lane l fetches row jb + l; a step reads rows j0 … j0+step-1 from lanes u0 … (j0 = jb + u0).
    const full = c.step === 8;
    const from = (j: number) => (full ? `${j}u` : `u0 + ${j}u`);
    const share = (x: string, j: number) => (full ? `subgroupBroadcast(${x}, ${j}u)` : `subgroupShuffle(${x}, ${from(j)})`);
    const access: Access = { vec: (n, j, ch) => share(`${n}_l${ch}`, j), scalar: (n, j) => share(`${n}_l`, j) };
    loop.push(`for (var jb = ${stream.start}; jb < ${stream.end}; jb += 8u) {`);
    for (const n of stream.vecs) {
      for (const d4 of range(rl.d4)) loop.push(`  let ${n}_l${d4} = textureLoad(t_${n}, vec2<u32>(${d4}u, jb + lane), layer);`);
    }
    for (const s of stream.scalars) loop.push(`  let ${s.name}_l = ${s.load('(jb + lane)')};`);
    if (full) {
      loop.push('  let j0 = jb;', ...spec.body(access).map((l) => '  ' + l));
    } else {
      loop.push(`  for (var u0 = 0u; u0 < 8u; u0 += ${c.step}u) {`, '    let j0 = jb + u0;');
      loop.push(...spec.body(access).map((l) => '    ' + l), '  }');
    }
    loop.push('}');
  } else {
    const access: Access = {
      vec: (n, j, ch) => `sh_${n}[(jj + ${j}u) * ${rl.d4p}u + ${rl.vec4Index(ch)}]`,
      scalar: (n, j) => `shs_${n}[jj + ${j}u]`,
    };
    loop.push(`for (var t0 = ${stream.start}; t0 < ${stream.end}; t0 += ${c.tile}u) {`);
    loop.push('  workgroupBarrier();');
    loop.push(`  for (var e = lid; e < ${c.tile * rl.d4p}u; e += ${c.workgroup}u) {`);
    loop.push(`    let rr = t0 + e / ${rl.d4p}u;`);
    loop.push(`    let cc = e % ${rl.d4p}u;`);
    loop.push(`    let row = bh * ${stream.rows} + min(rr, ${stream.rows} - 1u);`);
    loop.push(`    let ok = rr < ${stream.rows} && cc < ${rl.d4}u;`);
    for (const n of stream.vecs) {
      if (vecRows) {
        loop.push(`    sh_${n}[e] = select(vec4<f32>(0.0), ${n}[row * ${rl.d4}u + min(cc, ${rl.d4 - 1}u)], ok);`);
      } else {
        // The column is clamped so that the (discarded) loads past D stay inside the row.
        const el = (i: number) => `select(0.0, ${n}[row * D + min(cc * 4u + ${i}u, D - 1u)], ok && cc * 4u + ${i}u < D)`;
        loop.push(`    sh_${n}[e] = vec4<f32>(${range(4).map(el).join(', ')});`);
      }
    }
    loop.push('  }');
    if (stream.scalars.length) {
      loop.push(`  for (var e = lid; e < ${c.tile}u; e += ${c.workgroup}u) {`);
      for (const s of stream.scalars) loop.push(`    shs_${s.name}[e] = ${s.load('(t0 + e)')};`);
      loop.push('  }');
    }
    loop.push('  workgroupBarrier();');
    loop.push(`  for (var jj = 0u; jj < ${c.tile}u; jj += ${c.step}u) {`);
    loop.push(`    let j0 = t0 + jj;`);
    loop.push(`    if (j0 >= ${stream.end}) { break; }`);
    loop.push(...spec.body(access).map((l) => '    ' + l));
    loop.push('  }');
    loop.push('}');
  }

  const useSubgroups = subgroup || c.lanes > 1;
  const code = `${useSubgroups ? 'enable subgroups;\n' : ''}${decl.join('\n')}
const D = ${c.d}u;
const NEG: f32 = ${NEG};

@compute @workgroup_size(${c.workgroup})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32${subgroup ? ', @builtin(subgroup_invocation_id) lane: u32' : ''}) {
  let layer = wid.y;
  let bh = p.bh0 + wid.y;
  let first = wid.x * ${groupRows(c)}u;
  let causal = p.causal != 0u;
  // The lanes of a row are consecutive invocations (and so neighbours in a subgroup).
  let slot = lid / ${c.lanes}u;${c.lanes > 1 ? `\n  let part = lid % ${c.lanes}u;` : ''}
  ${spec.prologue.join('\n  ')}
  ${loop.join('\n  ')}
  ${spec.epilogue.join('\n  ')}
}`;
  return { code, inputs, outputs: spec.outputs, textures: subgroup ? stream.vecs : [] };
}

/** 1 where streamed key i exists and is not padding-masked, else 0. */
function keyOkLoad(c: KernelConfig, i: string): string {
  const masked = c.hasMask ? ` && mask[(bh / p.heads) * p.sk + min(${i}, p.sk - 1u)] != 0.0` : '';
  return `select(0.0, 1.0, ${i} < p.sk${masked})`;
}

/** max of a list of WGSL expressions as a balanced tree. */
function maxTree(xs: string[]): string {
  if (xs.length === 1) return xs[0];
  const h = xs.length >> 1;
  return `max(${maxTree(xs.slice(0, h))}, ${maxTree(xs.slice(h))})`;
}

/** The owned row index of row slot r (rows of a workgroup are interleaved by slot). */
const ownedRow = (c: KernelConfig, r: number) => `first + slot + ${(c.workgroup / c.lanes) * r}u`;

/** Statements accumulating `acc<r>_<j> += own<r> · streamed row j` over this invocation's chunks. */
function dots(c: KernelConfig, rl: RowLayout, a: Access, acc: string, own: string, streamed: string): string[] {
  const L: string[] = [];
  for (const ch of range(rl.chunks)) {
    for (const j of range(c.step)) {
      const adds = range(c.rows).map((r) => `${acc}${r}_${j} += dot(${own}${r}_${ch}, x);`);
      L.push(`{ let x = ${a.vec(streamed, j, ch)}; ${adds.join(' ')} }`);
    }
  }
  const names = range(c.rows).flatMap((r) => range(c.step).map((j) => `${acc}${r}_${j}`));
  return [...L, ...rl.reduce(names)];
}

/** Statements `acc<r>_<c> += w<r>_<j> · streamed row j` (rank-1 updates of owned row slices). */
function axpys(c: KernelConfig, rl: RowLayout, a: Access, acc: string, w: string, streamed: string): string[] {
  const L: string[] = [];
  for (const ch of range(rl.chunks)) {
    for (const j of range(c.step)) {
      const adds = range(c.rows).map((r) => `${acc}${r}_${ch} += ${w}${r}_${j} * x;`);
      L.push(`{ let x = ${a.vec(streamed, j, ch)}; ${adds.join(' ')} }`);
    }
  }
  return L;
}

/**
 * What the query-owned kernels (forward, dQ) stream: key and value rows with each key's mask bit;
 * causal: keys after the group's last query are never visible, so the loop stops there.
 */
function keyStream(c: KernelConfig): Stream {
  return {
    vecs: ['k', 'v'],
    scalars: [{ name: 'ok', load: (i) => keyOkLoad(c, i) }],
    rows: 'p.sk',
    start: '0u',
    end: `select(p.sk, min(p.sk, first + ${groupRows(c)}u), causal)`,
  };
}

/**
 * The two products both backward kernels start from, for every owned row r and streamed step j:
 * s = own·streamed (the logit, P recomputed from it) and dp = ownGrad·streamedGrad (dP).
 */
function scoreDots(c: KernelConfig, rl: RowLayout, a: Access, [own, streamed]: [string, string], [ownGrad, streamedGrad]: [string, string]): string[] {
  const L = range(c.rows).map((r) => range(c.step).map((j) => `var s${r}_${j} = 0.0; var dp${r}_${j} = 0.0;`).join(' '));
  return [...L, ...dots(c, rl, a, 's', own, streamed), ...dots(c, rl, a, 'dp', ownGrad, streamedGrad)];
}

const zeroVecs = (rl: RowLayout, name: string) => range(rl.chunks).map((ch) => `var ${name}_${ch} = vec4<f32>(0.0);`).join(' ');

/**
 * Forward: out = softmax(scale·q·kᵀ + mask)·v and lse per query row, with an online softmax over
 * steps of keys. Inputs q [, mask] (+ k, v when tiled); outputs out, lse; textures t_k, t_v.
 */
export function forwardKernel(c: KernelConfig): Kernel {
  return cachedKernel(`attention_forwardKernel:${Object.values(c)}`, () => forwardKernelSource(c));
}

function forwardKernelSource(c: KernelConfig): Kernel {
  const rl = new RowLayout(c.d, c.lanes);
  const rows = range(c.rows);
  const steps = range(c.step);
  const prologue: string[] = [];
  for (const r of rows) {
    prologue.push(`let row${r} = ${ownedRow(c, r)};`);
    prologue.push(`let qi${r} = bh * p.sq + min(row${r}, p.sq - 1u);`);
    prologue.push(...rl.load('q', `qi${r}`, `q${r}`, ' * p.scale'));
    prologue.push(zeroVecs(rl, `o${r}`), `var m${r} = NEG;`, `var l${r} = 0.0;`);
  }
  const body = (a: Access) => {
    const L: string[] = rows.map((r) => steps.map((j) => `var s${r}_${j} = 0.0;`).join(' '));
    L.push(...dots(c, rl, a, 's', 'q', 'k'));
    for (const j of steps) L.push(`let ok${j} = ${a.scalar('ok', j)} != 0.0;`);
    for (const r of rows) {
      for (const j of steps) L.push(`s${r}_${j} = select(NEG, s${r}_${j}, ok${j} && (!causal || j0 + ${j}u <= row${r}));`);
      L.push(`let mn${r} = max(m${r}, ${maxTree(steps.map((j) => `s${r}_${j}`))});`);
      // Until a visible key is seen the max is NEG; subtracting 0 instead keeps every exp at 0.
      L.push(`let ms${r} = select(mn${r}, 0.0, mn${r} == NEG);`);
      L.push(`let c${r} = exp(m${r} - ms${r});`);
      L.push(steps.map((j) => `let pr${r}_${j} = exp(s${r}_${j} - ms${r});`).join(' '));
      L.push(`l${r} = l${r} * c${r} + ${steps.map((j) => `pr${r}_${j}`).join(' + ')};`);
      L.push(`m${r} = mn${r};`);
      L.push(range(rl.chunks).map((ch) => `o${r}_${ch} *= c${r};`).join(' '));
    }
    L.push(...axpys(c, rl, a, 'o', 'pr', 'v'));
    return L;
  };
  const epilogue: string[] = [];
  for (const r of rows) {
    epilogue.push(`if (row${r} < p.sq) {`);
    epilogue.push(`  let seen = m${r} != NEG;`);
    epilogue.push(`  let inv = select(0.0, 1.0 / l${r}, seen);`);
    epilogue.push(...rl.store('out', `qi${r}`, `o${r}`, 'inv').map((l) => '  ' + l));
    const lse = `lse[qi${r}] = select(p.negInf, m${r} + log(l${r}), seen);`;
    epilogue.push(`  ${c.lanes > 1 ? `if (part == 0u) { ${lse} }` : lse}`);
    epilogue.push('}');
  }
  return buildKernel(c, rl, {
    inputs: ['q', ...(c.hasMask ? ['mask'] : [])],
    outputs: ['out', 'lse'],
    stream: keyStream(c),
    prologue,
    body,
    epilogue,
  });
}

/**
 * dQ = scale · Σ_j P_ij (dP_ij − Δ_i) k_j with P recomputed from lse. Inputs q, dout, lse, delta
 * [, mask] (+ k, v when tiled); output dq; textures t_k, t_v.
 */
export function dqKernel(c: KernelConfig): Kernel {
  return cachedKernel(`attention_dqKernel:${Object.values(c)}`, () => dqKernelSource(c));
}

function dqKernelSource(c: KernelConfig): Kernel {
  const rl = new RowLayout(c.d, c.lanes);
  const rows = range(c.rows);
  const steps = range(c.step);
  const prologue: string[] = [];
  for (const r of rows) {
    prologue.push(`let row${r} = ${ownedRow(c, r)};`);
    prologue.push(`let ri${r} = bh * p.sq + min(row${r}, p.sq - 1u);`);
    prologue.push(...rl.load('q', `ri${r}`, `q${r}`, ' * p.scale'));
    prologue.push(...rl.load('dout', `ri${r}`, `g${r}`));
    prologue.push(zeroVecs(rl, `dq${r}`));
    prologue.push(`let lse${r} = lse[ri${r}];`, `let dl${r} = delta[ri${r}];`);
  }
  const body = (a: Access) => {
    const L = scoreDots(c, rl, a, ['q', 'k'], ['g', 'v']);
    for (const j of steps) L.push(`let ok${j} = ${a.scalar('ok', j)} != 0.0;`);
    for (const r of rows) {
      for (const j of steps) {
        const visible = `ok${j} && (!causal || j0 + ${j}u <= row${r})`;
        L.push(`let ds${r}_${j} = select(0.0, exp(s${r}_${j} - lse${r}), ${visible}) * (dp${r}_${j} - dl${r});`);
      }
    }
    L.push(...axpys(c, rl, a, 'dq', 'ds', 'k'));
    return L;
  };
  const epilogue: string[] = [];
  for (const r of rows) {
    epilogue.push(`if (row${r} < p.sq) {`);
    epilogue.push(...rl.store('dq', `ri${r}`, `dq${r}`, 'p.scale').map((l) => '  ' + l));
    epilogue.push('}');
  }
  return buildKernel(c, rl, {
    inputs: ['q', 'dout', 'lse', 'delta', ...(c.hasMask ? ['mask'] : [])],
    outputs: ['dq'],
    stream: keyStream(c),
    prologue,
    body,
    epilogue,
  });
}

/**
 * dV = Σ_i P_ij dout_i and dK = scale · Σ_i P_ij (dP_ij − Δ_i) q_i for the owned key rows, looping
 * over query rows. Inputs k, v, lse, delta [, mask] (+ q, dout when tiled); outputs dk, dv;
 * textures t_q, t_dout.
 */
export function dkdvKernel(c: KernelConfig): Kernel {
  return cachedKernel(`attention_dkdvKernel:${Object.values(c)}`, () => dkdvKernelSource(c));
}

function dkdvKernelSource(c: KernelConfig): Kernel {
  const rl = new RowLayout(c.d, c.lanes);
  const rows = range(c.rows);
  const steps = range(c.step);
  const prologue: string[] = [];
  for (const r of rows) {
    prologue.push(`let key${r} = ${ownedRow(c, r)};`);
    prologue.push(`let ki${r} = bh * p.sk + min(key${r}, p.sk - 1u);`);
    prologue.push(...rl.load('k', `ki${r}`, `k${r}`));
    prologue.push(...rl.load('v', `ki${r}`, `v${r}`));
    prologue.push(zeroVecs(rl, `dk${r}`), zeroVecs(rl, `dv${r}`));
    prologue.push(`let kok${r} = ${keyOkLoad(c, `key${r}`)} != 0.0;`);
  }
  const body = (a: Access) => {
    const L = scoreDots(c, rl, a, ['k', 'q'], ['v', 'dout']);
    for (const j of steps) L.push(`let lse${j} = ${a.scalar('lse', j)}; let dl${j} = ${a.scalar('delta', j)};`);
    for (const r of rows) {
      for (const j of steps) {
        const visible = `kok${r} && (!causal || key${r} <= j0 + ${j}u)`;
        L.push(`let pr${r}_${j} = select(0.0, exp(s${r}_${j} * p.scale - lse${j}), ${visible});`);
        L.push(`let ds${r}_${j} = pr${r}_${j} * (dp${r}_${j} - dl${j});`);
      }
    }
    L.push(...axpys(c, rl, a, 'dv', 'pr', 'dout'));
    L.push(...axpys(c, rl, a, 'dk', 'ds', 'q'));
    return L;
  };
  const epilogue: string[] = [];
  for (const r of rows) {
    epilogue.push(`if (key${r} < p.sk) {`);
    epilogue.push(...rl.store('dk', `ki${r}`, `dk${r}`, 'p.scale').map((l) => '  ' + l));
    epilogue.push(...rl.store('dv', `ki${r}`, `dv${r}`, '1.0').map((l) => '  ' + l));
    epilogue.push('}');
  }
  // A padding query row (i ≥ Sq) gets lse = BIG and Δ = 0, so its P is 0.
  const lseLoad = (i: string) => `select(${BIG}, lse[bh * p.sq + min(${i}, p.sq - 1u)], ${i} < p.sq)`;
  const deltaLoad = (i: string) => `select(0.0, delta[bh * p.sq + min(${i}, p.sq - 1u)], ${i} < p.sq)`;
  return buildKernel(c, rl, {
    inputs: ['k', 'v', 'lse', 'delta', ...(c.hasMask ? ['mask'] : [])],
    outputs: ['dk', 'dv'],
    stream: {
      vecs: ['q', 'dout'],
      scalars: [
        { name: 'lse', load: lseLoad },
        { name: 'delta', load: deltaLoad },
      ],
      rows: 'p.sq',
      // Causal (query i sees keys j ≤ i): queries before the group's first key contribute nothing.
      start: 'select(0u, first, causal)',
      end: 'p.sq',
    },
    prologue,
    body,
    epilogue,
  });
}

/** Δ_i = Σ_d out_id · dout_id for every row of a [rows, D] pair (one invocation per row). */
export function deltaKernel(d: number): string {
  return kernelSource(`attention_delta:${d}`, () => deltaKernelSource(d));
}

function deltaKernelSource(d: number): string {
  const vec = d % 4 === 0;
  const n = vec ? d / 4 : d;
  return `@group(0) @binding(0) var<storage, read> out: array<${vec ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(1) var<storage, read> dout: array<${vec ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) var<storage, read_write> delta: array<f32>;
${new Params().u32('rows', 0).decl(3)}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.rows) { return; }
  var acc = ${vec ? 'vec4<f32>(0.0)' : '0.0'};
  for (var c = 0u; c < ${n}u; c += 1u) { acc += out[i * ${n}u + c] * dout[i * ${n}u + c]; }
  delta[i] = ${vec ? 'acc.x + acc.y + acc.z + acc.w' : 'acc'};
}`;
}
