// Row textures for the lavapipe attention kernels: a [BH, rows, D] tensor packed into an rgba32float
// 2-D array texture (one layer per batch·head, one texel row per tensor row, D/4 texels per row,
// zero padded), because lavapipe fetches a 16-byte texel per lane where a storage-buffer load
// costs a scalar loop over the lanes.
import { rt } from '../../runtime/current.ts';
import { Params } from '../../wgsl.ts';

const TEXTURE_USAGE = 0x08 /* STORAGE_BINDING */ | 0x04 /* TEXTURE_BINDING */;

interface Slot {
  texture: GPUTexture;
  view: GPUTextureView;
  width: number;
  height: number;
  layers: number;
}

// Two textures serve every attention kernel (k and v, or q and dout): the GPU runs dispatches in
// order, so repacking a slot for the next kernel waits for the previous kernel's reads.
const slots = new Map<string, Slot>();

/** Destroys the row textures (they are recreated on the next call); frees their memory between phases. */
export function releaseAttentionScratch(): void {
  if (slots.size === 0) return;
  rt().flush(); // destroying a texture that unsubmitted commands reference would fail their submit
  for (const slot of slots.values()) rt().destroyTexture(slot.texture);
  slots.clear();
}

function slotTexture(name: string, width: number, height: number, layers: number): GPUTextureView {
  const have = slots.get(name);
  if (have && have.width >= width && have.height >= height && have.layers >= layers) return have.view;
  const size = {
    width: Math.max(width, have?.width ?? 0),
    height: Math.max(height, have?.height ?? 0),
    layers: Math.max(layers, have?.layers ?? 0),
  };
  // Work already encoded may bind the old texture: it is destroyed after the next submit.
  if (have) rt().retire(have.texture);
  const texture = rt().device.createTexture({
    size: [size.width, size.height, size.layers],
    format: 'rgba32float',
    usage: TEXTURE_USAGE,
    label: `attention-${name}`,
  });
  const slot = { texture, view: texture.createView({ dimension: '2d-array' }), ...size };
  rt().registerView(slot.view, texture);
  slots.set(name, slot);
  return slot.view;
}

/**
 * Packs rows [0, paddedRows) of matrices bh0 … bh0+layers-1 of `src` (a contiguous [BH, rows, d]
 * f32 buffer) into texture slot `name`: texel (x, r) of layer l holds src[bh0 + l, r, 4x … 4x+3],
 * zero where r ≥ rows or the column ≥ d. Returns the view to bind.
 */
export function packRows(
  name: string,
  src: GPUBuffer,
  shape: { rows: number; d: number; paddedRows: number },
  bh0: number,
  layers: number,
): GPUTextureView {
  const { rows, d, paddedRows } = shape;
  const d4 = Math.ceil(d / 4);
  const view = slotTexture(name, d4, paddedRows, layers);
  const last = (bh0 + layers) * rows * d - 1;
  const params = new Params().u32('bh0', bh0).u32('rows', rows).u32('d', d).u32('paddedRows', paddedRows).u32('last', last);
  // With D % 4 = 0 a texel is one vec4 load (lavapipe loops over the lanes once per load, not per float).
  const vec = d % 4 === 0;
  const fetch = vec
    ? `select(vec4<f32>(0.0), src[(base + c) / 4u], r < p.rows)`
    : `vec4<f32>(element(r, base, c), element(r, base, c + 1u), element(r, base, c + 2u), element(r, base, c + 3u))`;
  const code = `@group(0) @binding(0) var<storage, read> src: array<${vec ? 'vec4<f32>' : 'f32'}>;
${params.decl(1)}@group(0) @binding(2) var dst: texture_storage_2d_array<rgba32float, write>;
${vec ? '' : `
fn element(r: u32, base: u32, c: u32) -> f32 {
  // The index is clamped so that the loads of padding (discarded by the select) stay in the buffer.
  return select(0.0, src[min(base + c, p.last)], r < p.rows && c < p.d);
}`}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  // One row per invocation: lavapipe's per-workgroup cost outweighs a texel's.
  let r = gid.x;
  if (r >= p.paddedRows) { return; }
  let base = ((p.bh0 + gid.z) * p.rows + min(r, p.rows - 1u)) * p.d;
  for (var c = 0u; c < p.d; c += 4u) {
    textureStore(dst, vec2<u32>(c / 4u, r), gid.z, ${fetch});
  }
}`;
  rt().dispatch({
    name: 'attention_pack',
    code,
    inputs: [src],
    outputs: [],
    params: params.pack(),
    resources: [view],
    workgroups: [Math.ceil(paddedRows / 64), 1, layers],
  });
  return view;
}
