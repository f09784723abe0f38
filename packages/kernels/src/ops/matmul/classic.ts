// The textbook shared-memory matmul: 16×16 threads, one element of C each, 16×16 tiles of A and B
// staged in workgroup memory. Kept as the benchmark reference and as the simplest correct variant.
import { Params } from '../../wgsl.ts';
import { batchOperandsUniform, dispatchBatches, epilogueWgsl, type MatmulProblem } from './problem.ts';

const T = 16;

export function encodeClassic(p: MatmulProblem, a: GPUBuffer, b: GPUBuffer, bias: GPUBuffer | null, out: GPUBuffer): void {
  const inputs = bias ? [a, b, bias] : [a, b];
  const workgroups: [number, number] = [Math.ceil(p.N / T), Math.ceil(p.M / T)];
  dispatchBatches(p, { name: 'matmul_classic', code: classicKernel(p), inputs, outputs: [out] }, workgroups, (z0) => classicParams(p, z0).params.pack());
}

function classicParams(p: MatmulProblem, z0: number): { params: Params; batchCode: string } {
  const params = new Params().u32('z0', z0).u32('M', p.M).u32('N', p.N).u32('K', p.K);
  return { params, batchCode: batchOperandsUniform(p, params, 'z') };
}

export function classicKernel(p: MatmulProblem): string {
  const [M, N, K] = ['p.M', 'p.N', 'p.K'];
  const aIndex = p.transA ? `aBase + k * ${M} + row` : `aBase + row * ${K} + k`;
  const bIndex = p.transB ? `bBase + col * ${K} + k` : `bBase + k * ${N} + col`;
  const inputs = ['A', 'B', ...(p.hasBias ? ['bias'] : [])];
  const decls = inputs.map((name, i) => `@group(0) @binding(${i}) var<storage, read> ${name}: array<f32>;`);
  const { params, batchCode } = classicParams(p, 0);
  return `${decls.join('\n')}
@group(0) @binding(${inputs.length}) var<storage, read_write> out: array<f32>;
${params.decl(inputs.length + 1)}
var<workgroup> As: array<array<f32, ${T}>, ${T}>;
var<workgroup> Bs: array<array<f32, ${T}>, ${T}>;
${epilogueWgsl(p)}

@compute @workgroup_size(${T}, ${T})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
  let z = wid.z + p.z0;
${batchCode}
  let aBase = aMat * p.M * p.K;
  let bBase = bMat * p.K * p.N;
  let rowC = wid.y * ${T}u + local.y;
  let colC = wid.x * ${T}u + local.x;
  var acc = 0.0;
  for (var k0 = 0u; k0 < ${K}; k0 += ${T}u) {
    {
      let row = rowC;
      let k = k0 + local.x;
      As[local.y][local.x] = select(0.0, A[min(${aIndex}, arrayLength(&A) - 1u)], row < ${M} && k < ${K});
    }
    {
      let col = colC;
      let k = k0 + local.y;
      Bs[local.y][local.x] = select(0.0, B[min(${bIndex}, arrayLength(&B) - 1u)], col < ${N} && k < ${K});
    }
    workgroupBarrier();
    for (var k = 0u; k < ${T}u; k++) { acc += As[local.y][k] * Bs[k][local.x]; }
    workgroupBarrier();
  }
  if (rowC < ${M} && colC < ${N}) { out[z * p.M * p.N + rowC * ${N} + colC] = epilogue(acc, colC); }
}`;
}
