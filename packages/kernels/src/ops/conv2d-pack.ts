// Re-layouts that feed the direct convolution kernel: weights packed per output-channel block (so one
// block's weights for a reduction channel are contiguous), and the zero-padded source texture.
import { DeviceArray } from '../array.ts';
import { rt } from '../runtime/current.ts';
import { kernelSource } from '../runtime/kernel-source.ts';
import { TextureCache } from '../runtime/texture-cache.ts';
import { grid, gridMain, linearIndex } from '../wgsl.ts';
import {
  blocksPerGroup,
  packedWeightSize,
  paddedReduction,
  sourceTextureShape,
  weightTextureShape,
  type DirectProblem,
  type DirectTile,
} from './conv2d-direct.ts';

/**
 * How the kernel's weight Wt(g, co, cr, kh, kw) is found in the conv weight w [O, C/groups, KH, KW]:
 * - 'forward': co is the output channel, cr the input channel.
 * - 'transposed': co is the input channel, cr the output channel (the input gradient).
 * - 'flipped': as 'transposed' with the kernel rotated by 180° (the input gradient of a stride-1
 *   convolution computed as a forward convolution of dy).
 */
export type WeightLayout = 'forward' | 'transposed' | 'flipped';

/** WGSL `fn packed_at(i: u32) -> f32`: element i of the packed weights (see packWeights), read from `w`. */
function packedAt(p: DirectProblem, tile: DirectTile, layout: WeightLayout): string {
  const { ot } = tile;
  const taps = p.kh * p.kw;
  const nb = blocksPerGroup(p, tile);
  const crp = paddedReduction(p, tile);
  const tap = layout === 'flipped' ? `${taps - 1}u - tap` : 'tap';
  const source =
    layout === 'forward'
      ? `((g * ${p.cog}u + co) * ${p.cr}u + cr) * ${taps}u + ${tap}`
      : `((g * ${p.cr}u + cr) * ${p.cog}u + co) * ${taps}u + ${tap}`;
  return `fn packed_at(i: u32) -> f32 {
  let o = i % ${ot}u;
  let tap = (i / ${ot}u) % ${taps}u;
  let cr = (i / ${ot * taps}u) % ${crp}u;
  let gb = i / ${ot * taps * crp}u;
  let g = gb / ${nb}u;
  let co = (gb % ${nb}u) * ${ot}u + o;
  if (co >= ${p.cog}u || cr >= ${p.cr}u) { return 0.0; }
  return w[${source}];
}`;
}

/** Packs w into [groups][blocks][cr padded][kh][kw][ot], zero where co or cr is padding. */
export function packWeights(w: DeviceArray, p: DirectProblem, tile: DirectTile, layout: WeightLayout): DeviceArray {
  const total = packedWeightSize(p, tile);
  const out = DeviceArray.empty([total], 'f32', 'conv2d');
  const code = kernelSource(`conv2d_pack_weights:${problemKey(p, tile)}:${layout}`, () => `@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${packedAt(p, tile, layout)}
${gridMain()} {
  let i = ${linearIndex()};
  if (i >= ${total}u) { return; }
  out[i] = packed_at(i);
}`);
  rt().dispatch({ name: 'conv2d_pack_weights', code, inputs: [w.buffer], outputs: [out.buffer], workgroups: grid(total) });
  return out;
}

/**
 * The packed weights (same order as packWeights) in an rgba32float texture array: one row per
 * loop iteration of the direct kernel (`segment` floats), one layer per output-channel block.
 * Lavapipe fetches texels with vector code, where storage-buffer loads are per-lane loops.
 */
export function packWeightsTexture(w: DeviceArray, p: DirectProblem, tile: DirectTile, layout: WeightLayout, segment: number): GPUTextureView {
  const shape = weightTextureShape(p, tile, segment);
  const view = scratchTexture('weights', shape.width, shape.rows, shape.layers);
  const total = shape.width * shape.rows * shape.layers;
  const code = kernelSource(`conv2d_pack_weights_texture:${problemKey(p, tile)}:${layout}:${segment}`, () => `@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var dst: texture_storage_2d_array<rgba32float, write>;
${packedAt(p, tile, layout)}
${gridMain()} {
  let t = ${linearIndex()};
  if (t >= ${total}u) { return; }
  let i = t * 4u;
  let tx = t % ${shape.width}u;
  let row = (t / ${shape.width}u) % ${shape.rows}u;
  let layer = t / ${shape.width * shape.rows}u;
  textureStore(dst, vec2<i32>(i32(tx), i32(row)), i32(layer), vec4<f32>(packed_at(i), packed_at(i + 1u), packed_at(i + 2u), packed_at(i + 3u)));
}`);
  rt().dispatch({ name: 'conv2d_pack_weights_texture', code, inputs: [w.buffer], outputs: [], resources: [view], workgroups: grid(total) });
  return view;
}

// Scratch textures are reused across calls (keyed by role and size). A UNet has a few dozen conv
// shapes: a byte budget, not the 16-entry limit that thrashed there (each eviction forced a submit).
const scratch = new TextureCache('conv2d', 0x08 /* STORAGE_BINDING */, 256 * 1024 * 1024);

/** Destroys the scratch textures conv2d keeps between calls (after submitting pending work). */
export function releaseConv2dScratch(): void {
  scratch.release();
}

function scratchTexture(slot: string, width: number, height: number, layers: number): GPUTextureView {
  return scratch.view(slot, width, height, layers);
}

/**
 * Copies x [n, layers, hx, wx] into the zero-padded source texture of the 'texture' source mode:
 * texel (tx, img·rows + pr, c) holds x[img, c, pr − ph, 4·tx − pw + k] for k = 0..3 (0 outside x).
 * Textures are scratch, reused by later calls: `slot` keeps two sources of one dispatch apart.
 */
export function sourceTexture(x: DeviceArray, p: DirectProblem, tile: DirectTile, slot = 'src'): GPUTextureView {
  const t = sourceTextureShape(p, tile);
  const height = p.n * t.rows;
  const view = scratchTexture(slot, t.width, height, t.layers);
  const total = t.width * height * t.layers;
  const code = kernelSource(`conv2d_source_texture:${problemKey(p, tile)}`, () => sourceTextureKernel(p, t, height, total));
  rt().dispatch({ name: 'conv2d_source_texture', code, inputs: [x.buffer], outputs: [], resources: [view], workgroups: grid(total) });
  return view;
}

function sourceTextureKernel(p: DirectProblem, t: { width: number; rows: number; layers: number }, height: number, total: number): string {
  const reads = [0, 1, 2, 3].map(
    (k) => `  { let col = i32(tx * 4u + ${k}u) - ${p.pw};
    if (rowOk && col >= 0 && col < ${p.wx}) { v[${k}] = x[rowBase + u32(col)]; } }`,
  );
  return `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var dst: texture_storage_2d_array<rgba32float, write>;
${gridMain()} {
  let i = ${linearIndex()};
  if (i >= ${total}u) { return; }
  let tx = i % ${t.width}u;
  let y = (i / ${t.width}u) % ${height}u;
  let c = i / ${t.width * height}u;
  let img = y / ${t.rows}u;
  let row = i32(y % ${t.rows}u) - ${p.ph};
  let rowOk = row >= 0 && row < ${p.hx};
  let rowBase = ((img * ${t.layers}u + c) * ${p.hx}u + u32(clamp(row, 0, ${p.hx - 1}))) * ${p.wx}u;
  var v = vec4<f32>(0.0);
${reads.join('\n')}
  textureStore(dst, vec2<i32>(i32(tx), i32(y)), i32(c), v);
}`;
}

/** Every field of the problem and the tile: the pack kernels bake them in. */
function problemKey(p: DirectProblem, tile: DirectTile): string {
  return `${Object.values(p).join(',')}|${Object.values(tile).join(',')}`;
}
