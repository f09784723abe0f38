// Fused scaled-dot-product attention (FlashAttention-style): forward with an online softmax that
// never materialises the Sq×Sk matrix, and the FlashAttention-2 backward (Δ = rowsum(dout ⊙ out),
// then one pass per key block for dK, dV and a separate pass per query block for dQ; no atomics).
//
// Semantics, matching torch.nn.functional.scaled_dot_product_attention:
//  - logits s_ij = scale · q_i·k_j (scale defaults to 1/√D), masked pairs removed from the softmax;
//  - causal uses the top-left aligned mask for any Sq, Sk: query i sees keys j ≤ i (PyTorch's
//    `is_causal`), so with Sq > Sk the rows i ≥ Sk see every key and with Sq < Sk the keys j ≥ Sq
//    are seen by no query (their dK, dV are 0);
//  - keyPaddingMask [B, Sk]: nonzero keeps the key, 0 removes it for every query of that batch;
//  - a row that sees no key (all masked) gets out = 0 and lse = -Infinity (PyTorch's math path
//    gives NaN there), and contributes nothing to any gradient.
import { DeviceArray } from '../array.ts';
import { rt } from '../runtime/current.ts';
import { profile, TEXTURE_KERNEL_LANES, tuning, type AttentionVariant } from '../runtime/profile.ts';
import { fmt } from '../shape.ts';
import { grid, Params } from '../wgsl.ts';
import {
  attentionParams,
  deltaKernel,
  dkdvKernel,
  dqKernel,
  forwardKernel,
  groupRows,
  type Kernel,
  type KernelConfig,
} from './attention/kernels.ts';
import { packRows } from './attention/textures.ts';

export { releaseAttentionScratch } from './attention/textures.ts';
export type { AttentionVariant } from '../runtime/profile.ts';

export interface AttentionOptions {
  /** Multiplies q·k; default 1/√D. */
  scale?: number;
  /** Top-left aligned causal mask: query i sees keys j ≤ i. */
  causal?: boolean;
  /** [B, Sk] f32: nonzero keeps key j of batch b, 0 masks it. */
  keyPaddingMask?: DeviceArray;
}

/** Largest supported head dimension (q, k, v rows live in registers). */
export const ATTENTION_MAX_D = 128;

interface Dims {
  B: number;
  H: number;
  Sq: number;
  Sk: number;
  D: number;
}

function checkInputs(op: string, q: DeviceArray, k: DeviceArray, v: DeviceArray, options: AttentionOptions): Dims {
  for (const [name, a] of [['q', q], ['k', k], ['v', v]] as const) {
    if (a.rank !== 4) throw new Error(`${op}: ${name} ${fmt(a.shape)} must have rank 4 [B, H, S, D]`);
    if (a.dtype !== 'f32') throw new Error(`${op}: ${name} must be f32, got ${a.dtype}`);
  }
  const [B, H, Sq, D] = q.shape;
  const [, , Sk] = k.shape;
  if (k.shape[0] !== B || k.shape[1] !== H || k.shape[3] !== D) {
    throw new Error(`${op}: k ${fmt(k.shape)} does not match q ${fmt(q.shape)} in B, H or D`);
  }
  if (v.shape[0] !== B || v.shape[1] !== H || v.shape[2] !== Sk || v.shape[3] !== D) {
    throw new Error(`${op}: v ${fmt(v.shape)} must be [B, H, Sk, D] = ${fmt([B, H, Sk, D])} like k ${fmt(k.shape)}`);
  }
  if (D < 1 || D > ATTENTION_MAX_D) throw new Error(`${op}: head dimension ${D} (q ${fmt(q.shape)}) must be in 1…${ATTENTION_MAX_D}`);
  const mask = options.keyPaddingMask;
  if (mask) {
    if (mask.rank !== 2 || mask.shape[0] !== B || mask.shape[1] !== Sk) {
      throw new Error(`${op}: keyPaddingMask ${fmt(mask.shape)} must be [B, Sk] = ${fmt([B, Sk])} for k ${fmt(k.shape)}`);
    }
    if (mask.dtype !== 'f32') throw new Error(`${op}: keyPaddingMask must be f32, got ${mask.dtype}`);
  }
  const scale = options.scale;
  if (scale !== undefined && !Number.isFinite(scale)) throw new Error(`${op}: scale must be finite, got ${scale}`);
  return { B, H, Sq, Sk, D };
}

function expectShape(op: string, name: string, a: DeviceArray, shape: number[]): void {
  if (a.rank !== shape.length || a.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${op}: ${name} ${fmt(a.shape)} must be ${fmt(shape)}`);
  }
  if (a.dtype !== 'f32') throw new Error(`${op}: ${name} must be f32, got ${a.dtype}`);
}

/** Whether the lavapipe 'subgroup' variant can run here: 8-lane subgroups and big enough textures. */
function subgroupVariantFits(dims: Dims): boolean {
  return (
    profile().subgroup.fixed === TEXTURE_KERNEL_LANES &&
    Math.max(dims.Sq, dims.Sk) + 8 <= rt().info.limits.maxTextureDimension2D
  );
}

/** The profile's variant; 'tiled' where the 'subgroup' one cannot run, unless it was asked for by `withTuning`. */
function pickVariant(op: string, dims: Dims): AttentionVariant {
  const { variant } = profile().attention;
  if (variant === 'subgroup' && !subgroupVariantFits(dims)) {
    if (tuning().attention?.variant === 'subgroup') {
      throw new Error(`${op}: variant 'subgroup' needs 8-lane subgroups and textures of ${Math.max(dims.Sq, dims.Sk)} rows on this adapter`);
    }
    return 'tiled';
  }
  return variant;
}

/**
 * Block sizes per variant and adapter.
 * 'subgroup' (measured on lavapipe, [1, 8, 256, 64]): 4 keys per step beat 8 (less spilling, half
 * the compile time) and 2; two query rows per lane did not pay for their doubled compile time.
 * 'tiled': a row is split over enough subgroup lanes that each holds ~16 floats of each of its
 * 2–4 row vectors (k, v, dk, dv at D = 128 would be 512 registers for one thread), and tiles fill
 * the workgroup memory. Not yet measured on NVIDIA.
 */
function kernelConfig(variant: AttentionVariant, d: number, hasMask: boolean): KernelConfig {
  const { attention, subgroup } = profile();
  const blocks = attention.blocks;
  if (variant === 'subgroup') {
    return { feed: 'subgroup', d, rows: 1, lanes: 1, workgroup: 8, tile: 8, step: 4, hasMask, ...blocks };
  }
  const d4 = Math.ceil(d / 4);
  const sg = subgroup.min;
  let lanes = 1;
  while (lanes < 8 && lanes * 2 <= sg && Math.ceil(d4 / lanes) > 4) lanes *= 2;
  const d4p = Math.ceil(d4 / lanes) * lanes;
  const budget = attention.workgroupMemory;
  // Two staged tensors of tile × d4p texels (16 B each) and at most two per-row scalars.
  let tile = 64;
  while (tile > 8 && tile * (2 * d4p * 16 + 8) > budget) tile /= 2;
  // 64 invocations: 16–64 rows per workgroup, so that even [1, 8, 256, 64] fills a large GPU.
  return { feed: 'tiled', d, rows: 1, lanes, workgroup: 64, tile, step: 4, hasMask, ...blocks };
}

const ceil8 = (x: number) => Math.ceil(x / 8) * 8;

interface Encode {
  op: string;
  kernel: Kernel;
  config: KernelConfig;
  dims: Dims;
  /** Buffers by binding name. */
  buffers: Record<string, GPUBuffer>;
  /** Rows of the owned side (Sq or Sk) and of each textured (streamed) tensor. */
  ownRows: number;
  streamRows: number;
  causal: boolean;
  scale: number;
}

/** Dispatches one attention kernel over all batch·heads, in chunks that fit the grid and texture limits. */
function encode(e: Encode): void {
  const { B, H, Sq, Sk, D } = e.dims;
  const BH = B * H;
  const maxGroups = rt().info.limits.maxComputeWorkgroupsPerDimension;
  const chunk = e.kernel.textures.length ? Math.min(maxGroups, rt().info.limits.maxTextureArrayLayers) : maxGroups;
  const groupsX = Math.ceil(e.ownRows / groupRows(e.config));
  for (let bh0 = 0; bh0 < BH; bh0 += chunk) {
    const n = Math.min(chunk, BH - bh0);
    const textures = e.kernel.textures.map((name, i) =>
      packRows(i === 0 ? 'a' : 'b', e.buffers[name], { rows: e.streamRows, d: D, paddedRows: ceil8(e.streamRows) }, bh0, n),
    );
    const params = attentionParams({ sq: Sq, sk: Sk, heads: H, bh0, causal: e.causal, scale: e.scale });
    rt().dispatch({
      name: e.op,
      code: e.kernel.code,
      inputs: e.kernel.inputs.map((name) => e.buffers[name]),
      outputs: e.kernel.outputs.map((name) => e.buffers[name]),
      params: params.pack(),
      resources: textures,
      workgroups: [groupsX, n],
    });
  }
}

const NEG_INF_BITS = 0xff800000;

/**
 * Scaled-dot-product attention: out = softmax(scale·q·kᵀ + masks)·v, per batch and head.
 * q [B, H, Sq, D], k and v [B, H, Sk, D] (f32, D ≤ 128). Returns out [B, H, Sq, D] and the row
 * log-sum-exp of the scaled, masked logits, lse [B, H, Sq] (−Infinity for a row that sees no
 * key), which `attentionBackward` needs.
 */
export function attention(
  q: DeviceArray,
  k: DeviceArray,
  v: DeviceArray,
  options: AttentionOptions = {},
): { out: DeviceArray; lse: DeviceArray } {
  const op = 'attention';
  const dims = checkInputs(op, q, k, v, options);
  const { B, H, Sq, Sk, D } = dims;
  const out = DeviceArray.empty([B, H, Sq, D], 'f32', op);
  const lse = DeviceArray.empty([B, H, Sq], 'f32', op);
  if (B * H * Sq === 0) return { out, lse };
  if (Sk === 0) {
    rt().fillWords(out.buffer, out.size, 0);
    rt().fillWords(lse.buffer, lse.size, NEG_INF_BITS);
    return { out, lse };
  }
  const mask = options.keyPaddingMask;
  const variant = pickVariant(op, dims);
  const config = kernelConfig(variant, D, !!mask);
  encode({
    op,
    kernel: forwardKernel(config),
    config,
    dims,
    buffers: { q: q.buffer, k: k.buffer, v: v.buffer, out: out.buffer, lse: lse.buffer, ...(mask ? { mask: mask.buffer } : {}) },
    ownRows: Sq,
    streamRows: Sk,
    causal: !!options.causal,
    scale: options.scale ?? 1 / Math.sqrt(D),
  });
  return { out, lse };
}

/**
 * Gradients of `attention` given dout = ∂L/∂out: recomputes the probabilities from q, k and the
 * forward's lse (no Sq×Sk matrix is stored). `out` and `lse` are the forward's results and the
 * options must be the forward's. Returns dq [B, H, Sq, D], dk and dv [B, H, Sk, D].
 */
export function attentionBackward(
  q: DeviceArray,
  k: DeviceArray,
  v: DeviceArray,
  out: DeviceArray,
  lse: DeviceArray,
  dout: DeviceArray,
  options: AttentionOptions = {},
): { dq: DeviceArray; dk: DeviceArray; dv: DeviceArray } {
  const op = 'attentionBackward';
  const dims = checkInputs(op, q, k, v, options);
  const { B, H, Sq, Sk, D } = dims;
  expectShape(op, 'out', out, [B, H, Sq, D]);
  expectShape(op, 'dout', dout, [B, H, Sq, D]);
  expectShape(op, 'lse', lse, [B, H, Sq]);
  const dq = DeviceArray.empty([B, H, Sq, D], 'f32', op);
  const dk = DeviceArray.empty([B, H, Sk, D], 'f32', op);
  const dv = DeviceArray.empty([B, H, Sk, D], 'f32', op);
  if (B * H === 0) return { dq, dk, dv };
  if (Sq === 0 || Sk === 0) {
    // No query sees any key: every gradient is 0.
    for (const g of [dq, dk, dv]) if (g.size) rt().fillWords(g.buffer, g.size, 0);
    return { dq, dk, dv };
  }
  const mask = options.keyPaddingMask;
  const variant = pickVariant(op, dims);
  const causal = !!options.causal;
  const scale = options.scale ?? 1 / Math.sqrt(D);

  const rows = B * H * Sq;
  const delta = DeviceArray.empty([B, H, Sq], 'f32', `${op} delta`);
  try {
    rt().dispatch({
      name: `${op}_delta`,
      code: deltaKernel(D),
      inputs: [out.buffer, dout.buffer],
      outputs: [delta.buffer],
      params: new Params().u32('rows', rows).pack(),
      workgroups: grid(rows, 64),
    });
    const buffers = {
      q: q.buffer,
      k: k.buffer,
      v: v.buffer,
      dout: dout.buffer,
      lse: lse.buffer,
      delta: delta.buffer,
      dq: dq.buffer,
      dk: dk.buffer,
      dv: dv.buffer,
      ...(mask ? { mask: mask.buffer } : {}),
    };
    const config = kernelConfig(variant, D, !!mask);
    encode({ op: `${op}_dkdv`, kernel: dkdvKernel(config), config, dims, buffers, ownRows: Sk, streamRows: Sq, causal, scale });
    encode({ op: `${op}_dq`, kernel: dqKernel(config), config, dims, buffers, ownRows: Sq, streamRows: Sk, causal, scale });
  } finally {
    delta.dispose(); // the pool hands it out again only after the kernels above are encoded
  }
  return { dq, dk, dv };
}
