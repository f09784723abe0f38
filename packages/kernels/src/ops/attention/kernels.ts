// WGSL generators for the fused attention kernels (forward, dQ, dK/dV, and the row dot Δ).
//
// Every kernel has the same shape: each invocation owns R rows of one side (query rows for the
// forward and dQ, key rows for dK/dV) with those rows' vectors held in registers (D baked in,
// unrolled), and streams the rows of the other side in blocks of 8. How a streamed row reaches
// every invocation is the "feed":
//  - 'subgroup' (lavapipe): the workgroup is one 8-lane subgroup; lane l fetches streamed row
//    j0 + l from a row texture (16-byte texels) and the rows are shared with subgroupBroadcast.
//    No workgroup memory, no barriers.
//  - 'tiled' (portable): the workgroup stages a tile of streamed rows in workgroup memory between
//    two barriers, then every invocation reads them at the same (uniform) addresses.
import { Params } from '../../wgsl.ts';

export type Feed = 'subgroup' | 'tiled';

export interface KernelConfig {
  feed: Feed;
  /** Head dimension (baked in). */
  d: number;
  /** Rows each invocation owns. */
  rows: number;
  /** Invocations per workgroup; 8 (one subgroup) for the 'subgroup' feed. */
  workgroup: number;
  /** Streamed rows staged per tile ('tiled' feed only; a multiple of 8). */
  tile: number;
  /**
   * Streamed rows per unrolled step (1, 2, 4 or 8): the online softmax rescales once per step.
   * Fewer means less generated code (lavapipe's compile time grows fast with it) and a runtime loop.
   */
  step: number;
  hasMask: boolean;
}

/** Rows of the owned side covered by one workgroup. */
export const groupRows = (c: KernelConfig) => c.rows * c.workgroup;

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

/** How the body reads the current block (streamed rows j0 … j0+7). */
interface Access {
  vec(name: string, j: number, d4: number): string;
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

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

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

function buildKernel(c: KernelConfig, spec: KernelSpec): Kernel {
  const d4s = Math.ceil(c.d / 4);
  const { stream } = spec;
  const subgroup = c.feed === 'subgroup';
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
    for (const n of stream.vecs) decl.push(`var<workgroup> sh_${n}: array<vec4<f32>, ${c.tile * d4s}>;`);
    for (const s of stream.scalars) decl.push(`var<workgroup> shs_${s.name}: array<f32, ${c.tile}>;`);
  }

  const loop: string[] = [];
  if (subgroup) {
    // Lane l fetches row jb + l; a step reads rows j0 … j0+step-1 from lanes u0 … (j0 = jb + u0).
    const full = c.step === 8;
    const lane = (j: number) => (full ? `${j}u` : `u0 + ${j}u`);
    const access: Access = {
      vec: (n, j, d4) => (full ? `subgroupBroadcast(${n}_l${d4}, ${j}u)` : `subgroupShuffle(${n}_l${d4}, ${lane(j)})`),
      scalar: (n, j) => (full ? `subgroupBroadcast(${n}_l, ${j}u)` : `subgroupShuffle(${n}_l, ${lane(j)})`),
    };
    loop.push(`for (var jb = ${stream.start}; jb < ${stream.end}; jb += 8u) {`);
    for (const n of stream.vecs) {
      for (const d4 of range(d4s)) loop.push(`  let ${n}_l${d4} = textureLoad(t_${n}, vec2<u32>(${d4}u, jb + lane), layer);`);
    }
    for (const s of stream.scalars) loop.push(`  let ${s.name}_l = ${s.load('(jb + lane)')};`);
    if (full) {
      loop.push('  let j0 = jb;');
      loop.push(...spec.body(access).map((l) => '  ' + l));
    } else {
      loop.push(`  for (var u0 = 0u; u0 < 8u; u0 += ${c.step}u) {`);
      loop.push('    let j0 = jb + u0;');
      loop.push(...spec.body(access).map((l) => '    ' + l));
      loop.push('  }');
    }
    loop.push('}');
  } else {
    const access: Access = {
      vec: (n, j, d4) => `sh_${n}[(jj + ${j}u) * ${d4s}u + ${d4}u]`,
      scalar: (n, j) => `shs_${n}[jj + ${j}u]`,
    };
    loop.push(`for (var t0 = ${stream.start}; t0 < ${stream.end}; t0 += ${c.tile}u) {`);
    loop.push('  workgroupBarrier();');
    loop.push(`  for (var e = lid; e < ${c.tile * d4s}u; e += ${c.workgroup}u) {`);
    loop.push(`    let rr = t0 + e / ${d4s}u;`);
    loop.push(`    let row = bh * ${stream.rows} + min(rr, ${stream.rows} - 1u);`);
    loop.push(`    let ok = rr < ${stream.rows};`);
    for (const n of stream.vecs) {
      if (vecRows) {
        loop.push(`    sh_${n}[e] = select(vec4<f32>(0.0), ${n}[row * ${d4s}u + e % ${d4s}u], ok);`);
      } else {
        // The column is clamped so that the (discarded) loads past D stay inside the row.
        const el = (i: number) => `select(0.0, ${n}[row * D + min(cc + ${i}u, D - 1u)], ok && cc + ${i}u < D)`;
        loop.push(`    { let cc = (e % ${d4s}u) * 4u; sh_${n}[e] = vec4<f32>(${range(4).map(el).join(', ')}); }`);
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

  const code = `${subgroup ? 'enable subgroups;\n' : ''}${decl.join('\n')}
const D = ${c.d}u;
const NEG: f32 = ${NEG};

@compute @workgroup_size(${c.workgroup})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32${subgroup ? ', @builtin(subgroup_invocation_id) lane: u32' : ''}) {
  let layer = wid.y;
  let bh = p.bh0 + wid.y;
  let first = wid.x * ${groupRows(c)}u;
  let causal = p.causal != 0u;
  ${spec.prologue.join('\n  ')}
  ${loop.join('\n  ')}
  ${spec.epilogue.join('\n  ')}
}`;
  return { code, inputs, outputs: spec.outputs, textures: subgroup ? stream.vecs : [] };
}

/**
 * `let <prefix>_<d4> = …`: row `row` (a WGSL row index) of a [*, D] tensor as D/4 vec4 registers,
 * zero padded past D, times `factor`.
 */
function loadRow(tensor: string, row: string, prefix: string, d: number, factor = ''): string[] {
  return range(Math.ceil(d / 4)).map((d4) => {
    if (d % 4 === 0) return `let ${prefix}_${d4} = ${tensor}[${row} * ${d / 4}u + ${d4}u]${factor};`;
    const els = range(4).map((i) => (4 * d4 + i < d ? `${tensor}[${row} * D + ${4 * d4 + i}u]` : '0.0'));
    return `let ${prefix}_${d4} = vec4<f32>(${els.join(', ')})${factor};`;
  });
}

/** Stores the first D components of vec4 registers `<prefix>_<d4>` times `factor` at row `row`. */
function storeRow(tensor: string, row: string, prefix: string, d: number, factor: string): string[] {
  if (d % 4 === 0) return range(d / 4).map((d4) => `${tensor}[${row} * ${d / 4}u + ${d4}u] = ${prefix}_${d4} * ${factor};`);
  return range(d).map((c) => `${tensor}[${row} * D + ${c}u] = ${prefix}_${c >> 2}.${'xyzw'[c & 3]} * ${factor};`);
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

/**
 * Forward: out = softmax(scale·q·kᵀ + mask)·v and lse per query row, with an online softmax over
 * blocks of 8 keys. Inputs q [, mask] (+ k, v when tiled); outputs out, lse; textures t_k, t_v.
 */
export function forwardKernel(c: KernelConfig): Kernel {
  const R = c.rows;
  const D4 = Math.ceil(c.d / 4);
  const W = c.workgroup;
  const prologue: string[] = [];
  for (const r of range(R)) {
    prologue.push(`let row${r} = first + lid + ${W * r}u;`);
    prologue.push(`let qi${r} = bh * p.sq + min(row${r}, p.sq - 1u);`);
    prologue.push(...loadRow('q', `qi${r}`, `q${r}`, c.d, ' * p.scale'));
    prologue.push(...range(D4).map((d4) => `var o${r}_${d4} = vec4<f32>(0.0);`));
    prologue.push(`var m${r} = NEG;`, `var l${r} = 0.0;`);
  }
  const body = (a: Access) => {
    const L: string[] = [];
    for (const r of range(R)) L.push(range(c.step).map((j) => `var s${r}_${j} = 0.0;`).join(' '));
    for (const d4 of range(D4)) {
      for (const j of range(c.step)) {
        L.push(`{ let kv = ${a.vec('k', j, d4)}; ${range(R).map((r) => `s${r}_${j} += dot(q${r}_${d4}, kv);`).join(' ')} }`);
      }
    }
    for (const j of range(c.step)) L.push(`let ok${j} = ${a.scalar('ok', j)} != 0.0;`);
    for (const r of range(R)) {
      for (const j of range(c.step)) L.push(`s${r}_${j} = select(NEG, s${r}_${j}, ok${j} && (!causal || j0 + ${j}u <= row${r}));`);
      L.push(`let mn${r} = max(m${r}, ${maxTree(range(c.step).map((j) => `s${r}_${j}`))});`);
      // Until a visible key is seen the max is NEG; subtracting 0 instead keeps every exp at 0.
      L.push(`let ms${r} = select(mn${r}, 0.0, mn${r} == NEG);`);
      L.push(`let c${r} = exp(m${r} - ms${r});`);
      L.push(range(c.step).map((j) => `let pr${r}_${j} = exp(s${r}_${j} - ms${r});`).join(' '));
      L.push(`l${r} = l${r} * c${r} + ${range(c.step).map((j) => `pr${r}_${j}`).join(' + ')};`);
      L.push(`m${r} = mn${r};`);
    }
    for (const d4 of range(D4)) {
      L.push(range(R).map((r) => `o${r}_${d4} *= c${r};`).join(' '));
      for (const j of range(c.step)) {
        L.push(`{ let vv = ${a.vec('v', j, d4)}; ${range(R).map((r) => `o${r}_${d4} += pr${r}_${j} * vv;`).join(' ')} }`);
      }
    }
    return L;
  };
  const epilogue: string[] = [];
  for (const r of range(R)) {
    epilogue.push(`if (row${r} < p.sq) {`);
    epilogue.push(`  let seen = m${r} != NEG;`);
    epilogue.push(`  let inv = select(0.0, 1.0 / l${r}, seen);`);
    epilogue.push(...storeRow('out', `qi${r}`, `o${r}`, c.d, 'inv').map((l) => '  ' + l));
    epilogue.push(`  lse[qi${r}] = select(p.negInf, m${r} + log(l${r}), seen);`);
    epilogue.push('}');
  }
  return buildKernel(c, {
    inputs: ['q', ...(c.hasMask ? ['mask'] : [])],
    outputs: ['out', 'lse'],
    stream: {
      vecs: ['k', 'v'],
      scalars: [{ name: 'ok', load: (i) => keyOkLoad(c, i) }],
      rows: 'p.sk',
      start: '0u',
      end: `select(p.sk, min(p.sk, first + ${groupRows(c)}u), causal)`,
    },
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
  const R = c.rows;
  const D4 = Math.ceil(c.d / 4);
  const W = c.workgroup;
  const prologue: string[] = [];
  for (const r of range(R)) {
    prologue.push(`let row${r} = first + lid + ${W * r}u;`);
    prologue.push(`let ri${r} = bh * p.sq + min(row${r}, p.sq - 1u);`);
    prologue.push(...loadRow('q', `ri${r}`, `q${r}`, c.d, ' * p.scale'));
    prologue.push(...loadRow('dout', `ri${r}`, `g${r}`, c.d));
    prologue.push(...range(D4).map((d4) => `var dq${r}_${d4} = vec4<f32>(0.0);`));
    prologue.push(`let lse${r} = lse[ri${r}];`, `let dl${r} = delta[ri${r}];`);
  }
  const body = (a: Access) => {
    const L: string[] = [];
    for (const r of range(R)) L.push(range(c.step).map((j) => `var s${r}_${j} = 0.0; var dp${r}_${j} = 0.0;`).join(' '));
    for (const d4 of range(D4)) {
      for (const j of range(c.step)) {
        L.push(`{ let kv = ${a.vec('k', j, d4)}; ${range(R).map((r) => `s${r}_${j} += dot(q${r}_${d4}, kv);`).join(' ')} }`);
      }
    }
    for (const d4 of range(D4)) {
      for (const j of range(c.step)) {
        L.push(`{ let vv = ${a.vec('v', j, d4)}; ${range(R).map((r) => `dp${r}_${j} += dot(g${r}_${d4}, vv);`).join(' ')} }`);
      }
    }
    for (const j of range(c.step)) L.push(`let ok${j} = ${a.scalar('ok', j)} != 0.0;`);
    for (const r of range(R)) {
      for (const j of range(c.step)) {
        L.push(`let ds${r}_${j} = select(0.0, exp(s${r}_${j} - lse${r}), ok${j} && (!causal || j0 + ${j}u <= row${r})) * (dp${r}_${j} - dl${r});`);
      }
    }
    for (const d4 of range(D4)) {
      for (const j of range(c.step)) {
        L.push(`{ let kv = ${a.vec('k', j, d4)}; ${range(R).map((r) => `dq${r}_${d4} += ds${r}_${j} * kv;`).join(' ')} }`);
      }
    }
    return L;
  };
  const epilogue: string[] = [];
  for (const r of range(R)) {
    epilogue.push(`if (row${r} < p.sq) {`);
    epilogue.push(...storeRow('dq', `ri${r}`, `dq${r}`, c.d, 'p.scale').map((l) => '  ' + l));
    epilogue.push('}');
  }
  return buildKernel(c, {
    inputs: ['q', 'dout', 'lse', 'delta', ...(c.hasMask ? ['mask'] : [])],
    outputs: ['dq'],
    stream: {
      vecs: ['k', 'v'],
      scalars: [{ name: 'ok', load: (i) => keyOkLoad(c, i) }],
      rows: 'p.sk',
      start: '0u',
      end: `select(p.sk, min(p.sk, first + ${groupRows(c)}u), causal)`,
    },
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
  const R = c.rows;
  const D4 = Math.ceil(c.d / 4);
  const W = c.workgroup;
  const steps = range(c.step);
  const prologue: string[] = [];
  for (const r of range(R)) {
    prologue.push(`let key${r} = first + lid + ${W * r}u;`);
    prologue.push(`let ki${r} = bh * p.sk + min(key${r}, p.sk - 1u);`);
    prologue.push(...loadRow('k', `ki${r}`, `k${r}`, c.d));
    prologue.push(...loadRow('v', `ki${r}`, `v${r}`, c.d));
    prologue.push(...range(D4).map((d4) => `var dk${r}_${d4} = vec4<f32>(0.0); var dv${r}_${d4} = vec4<f32>(0.0);`));
    prologue.push(`let kok${r} = ${keyOkLoad(c, `key${r}`)} != 0.0;`);
  }
  const body = (a: Access) => {
    const L: string[] = [];
    for (const r of range(R)) L.push(steps.map((j) => `var s${r}_${j} = 0.0; var dp${r}_${j} = 0.0;`).join(' '));
    for (const d4 of range(D4)) {
      for (const j of steps) {
        L.push(`{ let qv = ${a.vec('q', j, d4)}; ${range(R).map((r) => `s${r}_${j} += dot(k${r}_${d4}, qv);`).join(' ')} }`);
      }
    }
    for (const d4 of range(D4)) {
      for (const j of steps) {
        L.push(`{ let gv = ${a.vec('dout', j, d4)}; ${range(R).map((r) => `dp${r}_${j} += dot(v${r}_${d4}, gv);`).join(' ')} }`);
      }
    }
    for (const j of steps) L.push(`let lse${j} = ${a.scalar('lse', j)}; let dl${j} = ${a.scalar('delta', j)};`);
    for (const r of range(R)) {
      for (const j of steps) {
        L.push(`let pr${r}_${j} = select(0.0, exp(s${r}_${j} * p.scale - lse${j}), kok${r} && (!causal || key${r} <= j0 + ${j}u));`);
        L.push(`let ds${r}_${j} = pr${r}_${j} * (dp${r}_${j} - dl${j});`);
      }
    }
    for (const d4 of range(D4)) {
      for (const j of steps) {
        L.push(`{ let gv = ${a.vec('dout', j, d4)}; ${range(R).map((r) => `dv${r}_${d4} += pr${r}_${j} * gv;`).join(' ')} }`);
      }
    }
    for (const d4 of range(D4)) {
      for (const j of steps) {
        L.push(`{ let qv = ${a.vec('q', j, d4)}; ${range(R).map((r) => `dk${r}_${d4} += ds${r}_${j} * qv;`).join(' ')} }`);
      }
    }
    return L;
  };
  const epilogue: string[] = [];
  for (const r of range(R)) {
    epilogue.push(`if (key${r} < p.sk) {`);
    epilogue.push(...storeRow('dk', `ki${r}`, `dk${r}`, c.d, 'p.scale').map((l) => '  ' + l));
    epilogue.push(...storeRow('dv', `ki${r}`, `dv${r}`, c.d, '1.0').map((l) => '  ' + l));
    epilogue.push('}');
  }
  // A padding query row (i ≥ Sq) gets lse = BIG and Δ = 0, so its P is 0.
  const lseLoad = (i: string) => `select(${BIG}, lse[bh * p.sq + min(${i}, p.sq - 1u)], ${i} < p.sq)`;
  const deltaLoad = (i: string) => `select(0.0, delta[bh * p.sq + min(${i}, p.sq - 1u)], ${i} < p.sq)`;
  return buildKernel(c, {
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
