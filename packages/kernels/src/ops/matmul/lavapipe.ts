// The matmul for Mesa lavapipe (software Vulkan: an 8-lane subgroup is one SIMD thread of a CPU).
// There a storage-buffer load is a scalar loop per lane, a texel fetch is one call that gathers
// 16 bytes per lane, subgroupBroadcast is a register permute, and barriers are expensive. So:
// operands are packed into rgba32float textures (zero-padded to whole tiles: no bounds checks in
// the hot loop); each 8-lane subgroup owns an rm × 32·cn tile of C, without workgroup memory or
// barriers; lane l keeps columns 4(l + 8c) … +3 of every row in vec4 accumulators and fetches its
// own B texels, while A is fetched once per subgroup (one texel per lane) and shared with
// subgroupBroadcast. The k loop body (kb texels of k) is fully unrolled generated code.
// B is cut into column panels (one texture layer each) and row tiles run fastest, so a subgroup
// streams one contiguous, cache-resident panel. Shapes are uniforms, so one pipeline per
// configuration serves every shape (lavapipe compiles these large kernels slowly, in seconds).
import { rt } from '../../runtime/current.ts';
import { profile, TEXTURE_KERNEL_LANES } from '../../runtime/profile.ts';
import { Params } from '../../wgsl.ts';
import { kernelSource } from '../../runtime/kernel-source.ts';
import { batchCount, batchOperandsUniform, dispatchBatches, epilogueWgsl, problemSourceKey, type MatmulProblem } from './problem.ts';
import { operandTexture, packOperand } from './textures.ts';

export interface LavapipeConfig {
  /** Rows of C per subgroup. */
  rm: number;
  /** vec4 column groups per lane: the subgroup covers 32·cn columns. */
  cn: number;
  /** k texels (4 values of k each) per unrolled loop step; rm·kb must be a multiple of 8. */
  kb: number;
}

/** For large problems: about 4 x86 instructions per 8-lane multiply-add (counted in lavapipe's generated code). */
export const LAVAPIPE_LARGE: LavapipeConfig = { rm: 16, cn: 2, kb: 4 };
/** For small problems: less padding waste and a much faster compile. */
export const LAVAPIPE_SMALL: LavapipeConfig = { rm: 8, cn: 1, kb: 2 };

const LANES = TEXTURE_KERNEL_LANES;
const roundUp = (x: number, m: number) => Math.ceil(x / m) * m;

export function pickLavapipeConfig(p: MatmulProblem): LavapipeConfig {
  const work = p.M * p.N * p.K * batchCount(p);
  return work >= 128 * 128 * 128 && p.M >= 32 && p.N >= 64 ? LAVAPIPE_LARGE : LAVAPIPE_SMALL;
}

/** Whether the texture kernel can run this problem on this device (otherwise use a buffer kernel). */
export function lavapipeSupports(p: MatmulProblem, cfg: LavapipeConfig): boolean {
  const info = rt().info;
  if (profile().subgroup.fixed !== LANES) return false;
  const maxDim = info.limits.maxTextureDimension2D;
  const maxLayers = info.limits.maxTextureArrayLayers;
  const kPad = roundUp(p.K, 4 * cfg.kb);
  return (
    kPad <= maxDim && // B rows (also bounds A's width, kPad/4)
    roundUp(p.N, 4 * LANES * cfg.cn) / 4 <= maxDim &&
    p.aMatrices <= maxLayers &&
    p.bMatrices <= maxLayers &&
    (cfg.rm * cfg.kb) % LANES === 0
  );
}

/**
 * B is packed in column panels, one per texture layer, when the layers allow: a subgroup then
 * streams through contiguous memory. Otherwise B is one row-major texture per matrix.
 */
function usePanels(p: MatmulProblem, panels: number): boolean {
  return p.bMatrices * panels <= rt().info.limits.maxTextureArrayLayers;
}

function kernelParams(p: MatmulProblem, kTexels: number, panels: number, r0: number, z0: number): { params: Params; batchCode: string } {
  const params = new Params().u32('r0', r0).u32('z0', z0).u32('M', p.M).u32('N', p.N).u32('kTexels', kTexels).u32('panels', panels);
  const batchCode = batchOperandsUniform(p, params, 'z');
  return { params, batchCode };
}

/** Encodes C = epilogue(op(A)·op(B)) into `out`; `lavapipeSupports` must hold. */
export function encodeLavapipe(
  p: MatmulProblem,
  a: GPUBuffer,
  b: GPUBuffer,
  bias: GPUBuffer | null,
  out: GPUBuffer,
  cfg: LavapipeConfig,
): void {
  const maxDim = rt().info.limits.maxTextureDimension2D;
  const kPad = roundUp(p.K, 4 * cfg.kb);
  const kTexels = kPad / 4;
  const panelWidth = LANES * cfg.cn; // texels of B one subgroup reads per k
  const panels = roundUp(p.N, 4 * panelWidth) / (4 * panelWidth);
  const panelled = usePanels(p, panels);
  const direct = readsADirectly(p, cfg);
  // A is packed in chunks of rows so that its texture stays within the dimension limit.
  const chunkRows = direct ? roundUp(p.M, cfg.rm) : Math.min(roundUp(p.M, cfg.rm), Math.floor(maxDim / cfg.rm) * cfg.rm);

  const texB = panelled
    ? operandTexture('bp', panelWidth, kPad, p.bMatrices * panels)
    : operandTexture('b', panels * panelWidth, kPad, p.bMatrices);
  const bMatrix = { rows: p.K, cols: p.N, transposed: p.transB, matrices: p.bMatrices, panels: panelled ? panels : 1 };
  packOperand(b, texB, bMatrix, panelled ? panelWidth : panels * panelWidth, kPad, 0);
  const texA = direct ? null : operandTexture('a', kTexels, chunkRows, p.aMatrices);

  const code = kernelSource(`matmul_lavapipe:${cfg.rm},${cfg.cn},${cfg.kb}:${panelled}:${direct}:${problemSourceKey(p)}`, () =>
    lavapipeKernel(p, cfg, panelled, direct),
  );
  for (let r0 = 0; r0 < p.M; r0 += chunkRows) {
    if (texA) packOperand(a, texA, { rows: p.M, cols: p.K, transposed: p.transA, matrices: p.aMatrices }, kTexels, chunkRows, r0);
    const rowGroups = Math.ceil(Math.min(chunkRows, p.M - r0) / cfg.rm);
    const inputs = [...(direct ? [a] : []), ...(bias ? [bias] : [])];
    const resources = texA ? [texA, texB] : [texB];
    // Row tiles vary fastest: consecutive workgroups reuse one B panel from cache.
    dispatchBatches(p, { name: 'matmul_lavapipe', code, inputs, outputs: [out], resources }, [rowGroups, panels], (z0) =>
      kernelParams(p, kTexels, panels, r0, z0).params.pack(),
    );
  }
}

/**
 * A row-major A whose K needs no padding is read straight from its buffer (4 values of k per vec4
 * load) when N is small: packing A costs as much as the multiply for the thin matrices of small
 * models (2048×64 · 64×256: 5.7 vs 6.6 ms, lavapipe under load), while at N = 1024 the texture
 * fetch wins (119 vs 133 ms for 1024³).
 */
export function readsADirectly(p: MatmulProblem, cfg: LavapipeConfig): boolean {
  return !p.transA && p.K % (4 * cfg.kb) === 0 && p.N <= 512;
}

/** The kernel source; it depends on the config, the epilogue and the batch rank, not on the shape. */
export function lavapipeKernel(p: MatmulProblem, cfg: LavapipeConfig, panelled: boolean, aDirect = false): string {
  const { rm, cn, kb } = cfg;
  const aLoads = (rm * kb) / LANES; // A texels per lane per step: t = lane + 8j ↦ (row t % rm, k texel t / rm)
  if (!Number.isInteger(aLoads)) throw new Error(`matmul: lavapipe config rm=${rm} kb=${kb} does not split over ${LANES} lanes`);

  const accs: string[] = [];
  for (let r = 0; r < rm; r++) for (let c = 0; c < cn; c++) accs.push(`var acc_${r}_${c} = vec4<f32>(0.0);`);
  const aIndex: string[] = [];
  for (let j = 0; j < aLoads; j++) {
    aIndex.push(`let aRow${j} = row0 + (lane + ${LANES * j}u) % ${rm}u;`, `let aK${j} = (lane + ${LANES * j}u) / ${rm}u;`);
    // Rows past M (the last tile's padding) read row M - 1: their results are never stored.
    if (aDirect) aIndex.push(`let aOff${j} = aBase + min(p.r0 + aRow${j}, p.M - 1u) * p.kTexels + aK${j};`);
  }

  // Every texture fetch of a step comes first: each is a call that clobbers the vector registers,
  // so grouping them spills the accumulators once per step instead of once per fetch.
  const body: string[] = [];
  for (let j = 0; j < aLoads; j++) {
    body.push(aDirect ? `let a${j} = a[aOff${j} + k4];` : `let a${j} = textureLoad(ta, vec2<u32>(k4 + aK${j}, aRow${j}), aMat);`);
  }
  for (let t4 = 0; t4 < kb; t4++) {
    for (let kk = 0; kk < 4; kk++) {
      for (let c = 0; c < cn; c++) {
        body.push(`let b_${t4}_${kk}_${c} = textureLoad(tb, vec2<u32>(bx + ${LANES * c}u, (k4 + ${t4}u) * 4u + ${kk}u), bLayer);`);
      }
    }
  }
  // Then row by row, so that only one row's accumulators need registers at a time.
  for (let r = 0; r < rm; r++) {
    for (let t4 = 0; t4 < kb; t4++) {
      const t = r + rm * t4;
      for (let kk = 0; kk < 4; kk++) {
        body.push(`{ let av = subgroupBroadcast(a${Math.floor(t / LANES)}.${'xyzw'[kk]}, ${t % LANES}u);`);
        for (let c = 0; c < cn; c++) body.push(`  acc_${r}_${c} += av * b_${t4}_${kk}_${c};`);
        body.push('}');
      }
    }
  }

  const stores: string[] = [];
  for (let r = 0; r < rm; r++) {
    stores.push(`if (grow0 + ${r}u < p.M) {`, `  let rowBase = outBase + (grow0 + ${r}u) * p.N;`);
    for (let c = 0; c < cn; c++) {
      stores.push(`  store4(rowBase, (col0 + ${LANES * c}u) * 4u, acc_${r}_${c});`);
    }
    stores.push('}');
  }

  const { params, batchCode } = kernelParams(p, 0, 0, 0, 0);
  const inputs = [...(aDirect ? ['a: array<vec4<f32>>'] : []), ...(p.hasBias ? ['bias: array<f32>'] : [])];
  const inputDecls = inputs.map((decl, i) => `@group(0) @binding(${i}) var<storage, read> ${decl};\n`).join('');
  const o = inputs.length;
  const textures = [...(aDirect ? [] : ['ta']), 'tb'];
  const textureDecls = textures.map((name, i) => `@group(0) @binding(${o + 2 + i}) var ${name}: texture_storage_2d_array<rgba32float, read>;`).join('\n');
  return `enable subgroups;
${inputDecls}@group(0) @binding(${o}) var<storage, read_write> out: array<f32>;
${params.decl(o + 1)}${textureDecls}
${epilogueWgsl(p)}

fn store4(rowBase: u32, col: u32, v: vec4<f32>) {
  for (var i = 0u; i < 4u; i++) {
    if (col + i < p.N) { out[rowBase + col + i] = epilogue(v[i], col + i); }
  }
}

@compute @workgroup_size(${LANES})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let z = wid.z + p.z0;
${batchCode}
  let row0 = wid.x * ${rm}u;                 // first row of this tile in the A texture chunk
  let col0 = wid.y * ${LANES * cn}u + lane; // this lane's first texel column of C
  ${panelled ? 'let bx = lane; let bLayer = bMat * p.panels + wid.y;' : 'let bx = col0; let bLayer = bMat;'} // B texel column and layer
${aDirect ? '  let aBase = aMat * p.M * p.kTexels;' : ''}
${aIndex.join('\n')}
  ${accs.join('\n  ')}
  for (var k4 = 0u; k4 < p.kTexels; k4 += ${kb}u) {
    ${body.join('\n    ')}
  }
  let grow0 = p.r0 + row0;
  let outBase = z * p.M * p.N;
  ${stores.join('\n  ')}
}`;
}
