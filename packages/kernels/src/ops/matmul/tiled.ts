// Workgroup-memory tiled matmul on plain storage buffers: the portable kernel and, with large tiles,
// the NVIDIA one. The tiles, register blocks and k loop are the shared GEMM generator's (../gemm/);
// this file supplies the operands as strided matrices (read as vec4 when their contiguous dimension
// allows it), the batch decode and the fused epilogue. Shapes are uniforms, so sizes share pipelines.
import { profile } from '../../runtime/profile.ts';
import { Params } from '../../wgsl.ts';
import { gemmBody, MATMUL_SPELLING } from '../gemm/kernel.ts';
import { matrixOperand } from '../gemm/operands.ts';
import { GEMM_PORTABLE, pickGemmTile, type GemmConfig } from '../gemm/tile.ts';
import { kernelSource } from '../../runtime/kernel-source.ts';
import { batchCount, batchOperandsUniform, dispatchBatches, epilogueWgsl, problemSourceKey, type MatmulProblem } from './problem.ts';

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
  const inputs = bias ? [a, b, bias] : [a, b];
  const workgroups: [number, number] = [Math.ceil(p.N / cfg.bn), Math.ceil(p.M / cfg.bm)];
  const vectors = [(p.transA ? p.M : p.K) % 4 === 0, (p.transB ? p.K : p.N) % 4 === 0, p.N % 4 === 0].map(Number).join('');
  const key = `matmul_tiled:${Object.values(cfg).join(',')}:${+p.transA}${+p.transB}:${vectors}:${profile().matmul.constantKLoop}:${problemSourceKey(p)}`;
  const code = kernelSource(key, () => tiledKernel(p, cfg));
  dispatchBatches(p, { name: 'matmul_tiled', code, inputs, outputs: [out] }, workgroups, (z0) => tiledParams(p, cfg, z0).params.pack());
}

function tiledParams(p: MatmulProblem, cfg: GemmConfig, z0: number): { params: Params; batchCode: string } {
  const params = new Params().u32('z0', z0).u32('M', p.M).u32('N', p.N).u32('K', p.K).u32('bk', cfg.bk);
  return { params, batchCode: batchOperandsUniform(p, params, 'z') };
}

export function tiledKernel(p: MatmulProblem, cfg: GemmConfig): string {
  // Shapes are uniforms: one pipeline per configuration and layout serves every size.
  const [M, N, K] = ['p.M', 'p.N', 'p.K'];
  // Contiguous dimension of each operand in memory, and whether it can be read as vec4.
  const aVec = (p.transA ? p.M : p.K) % 4 === 0;
  const bVec = (p.transB ? p.K : p.N) % 4 === 0;
  const outVec = p.N % 4 === 0;
  // Slice elements (outer o, contiguous i) of the operands, from the slice origin (m0 or n0, k0).
  const a = p.transA
    ? matrixOperand('A', aVec, true, (o, i) => ({ index: `aBase + (k0 + ${o}) * ${M} + m0 + ${i}`, inBounds: `k0 + ${o} < ${K} && m0 + ${i} < ${M}` }))
    : matrixOperand('A', aVec, false, (o, i) => ({ index: `aBase + (m0 + ${o}) * ${K} + k0 + ${i}`, inBounds: `m0 + ${o} < ${M} && k0 + ${i} < ${K}` }));
  const b = p.transB
    ? matrixOperand('B', bVec, false, (o, i) => ({ index: `bBase + (n0 + ${o}) * ${K} + k0 + ${i}`, inBounds: `n0 + ${o} < ${N} && k0 + ${i} < ${K}` }))
    : matrixOperand('B', bVec, true, (o, i) => ({ index: `bBase + (k0 + ${o}) * ${N} + n0 + ${i}`, inBounds: `k0 + ${o} < ${K} && n0 + ${i} < ${N}` }));
  const body = gemmBody({
    name: 'matmul',
    tile: cfg,
    a,
    b,
    kTiles: `((p.K + ${cfg.bk - 1}u) / ${cfg.bk}u)`,
    // A constant trip count lets GPU compilers unroll the loop (not on lavapipe: see the profile).
    kLoopBound: profile().matmul.constantKLoop ? `${cfg.bk}u` : 'p.bk',
    spelling: MATMUL_SPELLING,
  });

  const stores: string[] = [];
  body.rows.forEach((row, r) => {
    stores.push(`{ let row = m0 + ${row};`);
    stores.push(`  if (row < ${M}) {`);
    body.cols.forEach((col, j) => {
      stores.push(`    { let col = n0 + ${col}; let v = ${body.acc(r, j)};`);
      if (outVec) {
        stores.push(`      if (col < ${N}) { out[(outBase + row * ${N} + col) / 4u] = vec4<f32>(epilogue(v.x, col), epilogue(v.y, col + 1u), epilogue(v.z, col + 2u), epilogue(v.w, col + 3u)); } }`);
      } else {
        for (let q = 0; q < 4; q++) {
          stores.push(`      if (col + ${q}u < ${N}) { out[outBase + row * ${N} + col + ${q}u] = epilogue(v[${q}], col + ${q}u); }`);
        }
        stores.push('    }');
      }
    });
    stores.push('  }', '}');
  });

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
${body.tiles}
${epilogueWgsl(p)}

@compute @workgroup_size(${body.threadsN}, ${body.threadsM})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let z = wid.z + p.z0;
${batchCode}
  let aBase = aMat * p.M * p.K;
  let bBase = bMat * p.K * p.N;
  let outBase = z * p.M * p.N;
  let m0 = wid.y * ${cfg.bm}u;
  let n0 = wid.x * ${cfg.bn}u;
  let tx = local.x;
  let ty = local.y;
  ${body.regs.join('\n  ')}
  ${body.accs.join('\n  ')}
  ${body.mainLoop}
  ${stores.join('\n  ')}
}`;
}
