// Workgroup-memory tiled matmul on plain storage buffers: the portable kernel and, with large tiles,
// the NVIDIA one. A workgroup computes a bm × bn tile of C; each k step stages a bm × bk slice of A
// and a bk × bn slice of B in workgroup memory (A stored k-major, so both are read as vec4 along
// M or N), and every thread accumulates a tm × tn register block from vec4 reads. With
// `doubleBuffer` the next slices are fetched into registers while the current ones are used, and
// two workgroup buffers alternate: one barrier per k step. Operands are read as vec4 when their
// contiguous dimension allows it. Shapes are uniforms, so sizes share pipelines.
import { rt } from '../../runtime/current.ts';
import { profile } from '../../runtime/profile.ts';
import { Params } from '../../wgsl.ts';
import { GEMM_PORTABLE, pickGemmTile, type GemmConfig } from '../gemm/tile.ts';
import { batchCount, batchOperandsUniform, epilogueWgsl, MAX_GROUPS, type MatmulProblem } from './problem.ts';

/** The tile of a tiled variant for this problem: 'portable' always single-buffers; 'nvidia' takes big tiles per the profile's threshold. */
export function tiledConfig(variant: 'nvidia' | 'portable', p: MatmulProblem): GemmConfig {
  if (variant === 'portable') return GEMM_PORTABLE;
  const { bigTilesFrom, bigTilesCountBatches } = profile().matmul;
  return pickGemmTile(p.M, p.N, bigTilesCountBatches ? batchCount(p) : 1, bigTilesFrom);
}

export function encodeTiled(
  p: MatmulProblem,
  a: GPUBuffer,
  b: GPUBuffer,
  bias: GPUBuffer | null,
  out: GPUBuffer,
  cfg: GemmConfig,
): void {
  const code = tiledKernel(p, cfg);
  const batches = batchCount(p);
  for (let z0 = 0; z0 < batches; z0 += MAX_GROUPS) {
    rt().dispatch({
      name: 'matmul_tiled',
      code,
      inputs: bias ? [a, b, bias] : [a, b],
      outputs: [out],
      params: tiledParams(p, cfg, z0).params.pack(),
      workgroups: [Math.ceil(p.N / cfg.bn), Math.ceil(p.M / cfg.bm), Math.min(MAX_GROUPS, batches - z0)],
    });
  }
}

function tiledParams(p: MatmulProblem, cfg: GemmConfig, z0: number): { params: Params; batchCode: string } {
  const params = new Params().u32('z0', z0).u32('M', p.M).u32('N', p.N).u32('K', p.K).u32('bk', cfg.bk);
  return { params, batchCode: batchOperandsUniform(p, params, 'z') };
}

export function tiledKernel(p: MatmulProblem, cfg: GemmConfig): string {
  const { bm, bn, bk, tm, tn } = cfg;
  // Shapes are uniforms: one pipeline per configuration and layout serves every size.
  const [M, N, K] = ['p.M', 'p.N', 'p.K'];
  const tx = bn / tn; // threads along N
  const ty = bm / tm; // threads along M
  const threads = tx * ty;
  if (tm % 4 || tn % 4 || bm % tm || bn % tn || bk % 4) throw new Error(`matmul: invalid tiled config ${JSON.stringify(cfg)}`);

  // Contiguous dimension of each operand in memory, and whether it can be read as vec4.
  const aVec = (p.transA ? p.M : p.K) % 4 === 0;
  const bVec = (p.transB ? p.K : p.N) % 4 === 0;
  const outVec = p.N % 4 === 0;

  // --- Global → register loads of one k slice (k0 = tile start), then register → workgroup stores.
  const loadLines: string[] = [];
  const storeLines: string[] = [];
  const regs: string[] = [];
  const stage = (
    name: 'A' | 'B',
    vec: boolean,
    outer: number, // extent of the non-contiguous dim in the tile
    inner: number, // extent of the contiguous dim in the tile
    // element (o, i) of the tile → global index expression and bounds condition, and workgroup destination
    global: (o: string, i: string) => { index: string; inBounds: string },
    dest: (o: string, i: string) => string,
    // set when the tile's contiguous dim is also contiguous in workgroup memory: one vec4 store
    destVec?: (o: string, i: string) => string,
  ) => {
    const width = vec ? 4 : 1;
    const perRow = inner / width;
    const count = outer * perRow;
    const perThread = Math.ceil(count / threads);
    for (let s = 0; s < perThread; s++) {
      const v = `${name.toLowerCase()}Reg${s}`;
      const guardAll = (s + 1) * threads > count ? `if (lid + ${s * threads}u < ${count}u) ` : '';
      regs.push(`var ${v}: ${vec ? 'vec4<f32>' : 'f32'};`);
      loadLines.push(`${guardAll}{`);
      loadLines.push(`  let e = lid + ${s * threads}u; let o = e / ${perRow}u; let i = (e % ${perRow}u) * ${width}u;`);
      const g = global('o', 'i');
      const zero = vec ? 'vec4<f32>(0.0)' : '0.0';
      const idx = vec ? `(${g.index}) / 4u` : g.index;
      loadLines.push(`  ${v} = ${zero};`, `  if (${g.inBounds}) { ${v} = ${name}[${idx}]; }`);
      loadLines.push('}');
      storeLines.push(`${guardAll}{`);
      storeLines.push(`  let e = lid + ${s * threads}u; let o = e / ${perRow}u; let i = (e % ${perRow}u) * ${width}u;`);
      if (vec && destVec) storeLines.push(`  ${destVec('o', 'i')} = ${v};`);
      else for (let q = 0; q < width; q++) storeLines.push(`  ${dest('o', `i + ${q}u`)} = ${vec ? `${v}[${q}]` : v};`);
      storeLines.push('}');
    }
  };
  // As[k][m] (k-major), Bs[k][n], as flat f32 views on vec4 arrays: element e is S[e / 4][e % 4].
  const sA = (k: string, m: string) => `As[buf][((${k}) * ${bm}u + (${m})) / 4u][((${m})) % 4u]`;
  const sB = (k: string, n: string) => `Bs[buf][((${k}) * ${bn}u + (${n})) / 4u][((${n})) % 4u]`;
  // vec4 stores at a multiple-of-4 position along m (n)
  const sA4 = (k: string, m: string) => `As[buf][((${k}) * ${bm}u + (${m})) / 4u]`;
  const sB4 = (k: string, n: string) => `Bs[buf][((${k}) * ${bn}u + (${n})) / 4u]`;
  if (p.transA) {
    // A stored [K, M]: contiguous along m.
    stage('A', aVec, bk, bm, (o, i) => ({ index: (`aBase + (k0 + ${o}) * ${M} + m0 + ${i}`), inBounds: `k0 + ${o} < ${K} && m0 + ${i} < ${M}` }), (o, i) => sA(o, i), sA4);
  } else {
    stage('A', aVec, bm, bk, (o, i) => ({ index: (`aBase + (m0 + ${o}) * ${K} + k0 + ${i}`), inBounds: `m0 + ${o} < ${M} && k0 + ${i} < ${K}` }), (o, i) => sA(i, o));
  }
  if (p.transB) {
    // B stored [N, K]: contiguous along k.
    stage('B', bVec, bn, bk, (o, i) => ({ index: (`bBase + (n0 + ${o}) * ${K} + k0 + ${i}`), inBounds: `n0 + ${o} < ${N} && k0 + ${i} < ${K}` }), (o, i) => sB(i, o));
  } else {
    stage('B', bVec, bk, bn, (o, i) => ({ index: (`bBase + (k0 + ${o}) * ${N} + n0 + ${i}`), inBounds: `k0 + ${o} < ${K} && n0 + ${i} < ${N}` }), (o, i) => sB(o, i), sB4);
  }

  // --- The register-blocked product of one k slice. Thread rows 4(ty + i·ty) … and columns 4(tx + j·tx) …
  const rv = tm / 4;
  const cv = tn / 4;
  // A constant trip count lets GPU compilers unroll the loop (not on lavapipe: see the profile).
  const kBound = profile().matmul.constantKLoop ? `${bk}u` : 'p.bk';
  const compute: string[] = [`for (var k = 0u; k < ${kBound}; k++) {`];
  for (let i = 0; i < rv; i++) compute.push(`  let a${i} = As[buf][k * ${bm / 4}u + ty + ${i * ty}u];`);
  for (let j = 0; j < cv; j++) compute.push(`  let b${j} = Bs[buf][k * ${bn / 4}u + tx + ${j * tx}u];`);
  for (let i = 0; i < rv; i++) {
    for (let ii = 0; ii < 4; ii++) {
      for (let j = 0; j < cv; j++) compute.push(`  acc_${i * 4 + ii}_${j} += a${i}[${ii}] * b${j};`);
    }
  }
  compute.push('}');

  const accs: string[] = [];
  for (let r = 0; r < tm; r++) for (let j = 0; j < cv; j++) accs.push(`var acc_${r}_${j} = vec4<f32>(0.0);`);

  const stores: string[] = [];
  for (let i = 0; i < rv; i++) {
    for (let ii = 0; ii < 4; ii++) {
      const r = i * 4 + ii;
      stores.push(`{ let row = m0 + (ty + ${i * ty}u) * 4u + ${ii}u;`);
      stores.push(`  if (row < ${M}) {`);
      for (let j = 0; j < cv; j++) {
        stores.push(`    { let col = n0 + (tx + ${j * tx}u) * 4u; let v = acc_${r}_${j};`);
        if (outVec) {
          stores.push(`      if (col < ${N}) { out[(outBase + row * ${N} + col) / 4u] = vec4<f32>(epilogue(v.x, col), epilogue(v.y, col + 1u), epilogue(v.z, col + 2u), epilogue(v.w, col + 3u)); } }`);
        } else {
          for (let q = 0; q < 4; q++) {
            stores.push(`      if (col + ${q}u < ${N}) { out[outBase + row * ${N} + col + ${q}u] = epilogue(v[${q}], col + ${q}u); }`);
          }
          stores.push('    }');
        }
      }
      stores.push('  }', '}');
    }
  }

  const tiles = `((p.K + ${bk - 1}u) / ${bk}u)`;
  const nbuf = cfg.doubleBuffer ? 2 : 1;
  const mainLoop = cfg.doubleBuffer
    ? `${loadLines.join('\n  ')}
  {
    let buf = 0u;
    ${storeLines.join('\n    ')}
  }
  workgroupBarrier();
  for (var t = 0u; t < ${tiles}; t++) {
    let buf = t % 2u;
    let k0 = (t + 1u) * ${bk}u;
    if (t + 1u < ${tiles}) {
      ${loadLines.join('\n      ')}
    }
    ${compute.join('\n    ')}
    if (t + 1u < ${tiles}) {
      let buf = (t + 1u) % 2u;
      ${storeLines.join('\n      ')}
    }
    workgroupBarrier();
  }`
    : `for (var t = 0u; t < ${tiles}; t++) {
    let buf = 0u;
    let k0 = t * ${bk}u;
    ${loadLines.join('\n    ')}
    ${storeLines.join('\n    ')}
    workgroupBarrier();
    ${compute.join('\n    ')}
    workgroupBarrier();
  }`;

  const inputs: Array<[string, string]> = [
    ['A', aVec ? 'vec4<f32>' : 'f32'],
    ['B', bVec ? 'vec4<f32>' : 'f32'],
  ];
  if (p.hasBias) inputs.push(['bias', 'f32']);
  const decls = inputs.map(([name, type], i) => `@group(0) @binding(${i}) var<storage, read> ${name}: array<${type}>;`);
  decls.push(`@group(0) @binding(${inputs.length}) var<storage, read_write> out: array<${outVec ? 'vec4<f32>' : 'f32'}>;`);
  const { params, batchCode } = tiledParams(p, cfg, 0);
  return `${decls.join('\n')}
${params.decl(inputs.length + 1)}
var<workgroup> As: array<array<vec4<f32>, ${(bk * bm) / 4}>, ${nbuf}>;
var<workgroup> Bs: array<array<vec4<f32>, ${(bk * bn) / 4}>, ${nbuf}>;
${epilogueWgsl(p)}

@compute @workgroup_size(${tx}, ${ty})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let z = wid.z + p.z0;
${batchCode}
  let aBase = aMat * p.M * p.K;
  let bBase = bMat * p.K * p.N;
  let outBase = z * p.M * p.N;
  let m0 = wid.y * ${bm}u;
  let n0 = wid.x * ${bn}u;
  let tx = local.x;
  let ty = local.y;
  ${regs.join('\n  ')}
  ${accs.join('\n  ')}
  ${cfg.doubleBuffer ? `let k0 = 0u;\n  ` : ''}${mainLoop}
  ${stores.join('\n  ')}
}`;
}
