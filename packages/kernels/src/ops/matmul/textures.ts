// Operand textures for the texture-based matmul: a small cache of rgba32float 2-D array textures
// (reused across matmuls, never allocated per call) and the pack kernel that fills one from a buffer.
import { rt } from '../../runtime/current.ts';
import { bucketSize } from '../../runtime/pool.ts';
import { kernelSource } from '../../runtime/kernel-source.ts';
import { TextureCache } from '../../runtime/texture-cache.ts';
import { Params } from '../../wgsl.ts';

const TEXTURE_USAGE = 0x08 /* STORAGE_BINDING */ | 0x04 /* TEXTURE_BINDING */ | 0x02 /* COPY_DST */;
const cache = new TextureCache('matmul', TEXTURE_USAGE, 512 * 1024 * 1024);

/**
 * A texture of at least `width` × `height` texels and exactly `layers` layers for operand `slot`.
 * Dims are bucketed so that nearby shapes share one texture. Reuse across calls is safe: the GPU
 * runs dispatches in order, so the next pack waits for the previous matmul's reads.
 */
export function operandTexture(slot: string, width: number, height: number, layers: number): GPUTextureView {
  return cache.view(slot, bucketSize(width * 16) / 16, bucketSize(height * 16) / 16, layers);
}

/** Destroys every cached texture (after submitting the work that may still use them). */
export function evictAll(): void {
  cache.release();
}

/**
 * Packs matrices from `src` into `view`. Layer L, texel (x, y) holds logical elements
 * (r0 + y, 4c … 4c+3) of matrix l, zero outside [rows, cols], where l = L / panels and
 * c = (L % panels)·texWidth + x: with `panels` > 1 the columns are cut into panels of `texWidth`
 * texels, one per layer, so that a kernel walking one panel down the rows reads contiguous memory.
 * Logical matrix l is stored row-major as [rows, cols] at offset l·rows·cols, or as [cols, rows]
 * when `transposed`. Sizes are uniforms: one pipeline per orientation.
 */
export function packOperand(
  src: GPUBuffer,
  view: GPUTextureView,
  m: { rows: number; cols: number; transposed: boolean; matrices: number; panels?: number },
  texWidth: number,
  texHeight: number,
  r0: number,
): void {
  const panels = m.panels ?? 1;
  const params = new Params().u32('rows', m.rows).u32('cols', m.cols).u32('width', texWidth).u32('height', texHeight).u32('r0', r0).u32('panels', panels);
  const code = kernelSource(`matmul_pack:${m.transposed}`, () => packKernel(params, m.transposed ? 'c * p.rows + r' : 'r * p.cols + c'));
  rt().dispatch({
    name: 'matmul_pack',
    code,
    inputs: [src],
    outputs: [],
    params: params.pack(),
    resources: [view],
    // 8×8 texels per workgroup: operand textures are often only a few texels wide, and a row-long
    // workgroup of 64 would leave most lanes idle (lavapipe pays per workgroup).
    workgroups: [Math.ceil(texWidth / 8), Math.ceil(texHeight / 8), m.matrices * panels],
  });
}

function packKernel(params: Params, index: string): string {
  return `@group(0) @binding(0) var<storage, read> src: array<f32>;
${params.decl(1)}@group(0) @binding(2) var dst: texture_storage_2d_array<rgba32float, write>;

fn element(base: u32, r: u32, c: u32) -> f32 {
  if (r >= p.rows || c >= p.cols) { return 0.0; }
  return src[base + ${index}];
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= p.width || gid.y >= p.height) { return; }
  let base = (gid.z / p.panels) * p.rows * p.cols;
  let r = p.r0 + gid.y;
  let c = ((gid.z % p.panels) * p.width + gid.x) * 4u;
  let v = vec4<f32>(element(base, r, c), element(base, r, c + 1u), element(base, r, c + 2u), element(base, r, c + 3u));
  textureStore(dst, vec2<u32>(gid.x, gid.y), gid.z, v);
}`;
}
