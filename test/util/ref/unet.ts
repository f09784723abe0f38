// Float64 CPU reference of diffusers' (0.15) UNet2DConditionModel and the seed's
// UNet2DConditionModelEmb, written from diffusers' semantics (unet_2d_condition.py, unet_2d_blocks.py,
// transformer_2d.py, attention.py, resnet.py, embeddings.py), independently of packages/models.
// Plain loops over flat row-major arrays; weights are read by their diffusers state-dict names from a
// Map, so a test can perturb one coordinate in place (the arrays must then be Float64Array: a
// Float32Array weight is converted on every read and a perturbation of it would be rounded to f32).
import { multiHeadAttentionRef } from './attention.ts';
import { refUpsample2x } from './copy.ts';
import { REF_UNARY } from './elementwise.ts';
import { refGroupNorm } from './groupnorm.ts';
import { refMatmul } from './matmul.ts';
import { refLayerNorm } from './norm.ts';

export interface RefHostArray {
  shape: number[];
  data: Float64Array | Float32Array;
}
export type RefWeights = Map<string, RefHostArray>;

/** A float64 tensor: data and shape (row-major). */
export interface Arr {
  data: Float64Array;
  shape: number[];
}

const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const silu = REF_UNARY.silu;
const gelu = REF_UNARY.gelu; // exact (erf) GELU, as torch.nn.functional.gelu's default

const withDot = (prefix: string) => (prefix && !prefix.endsWith('.') ? `${prefix}.` : prefix);

/** Named weights under a prefix; records every name read so a whole-model forward can insist all were used. */
class Params {
  constructor(
    readonly map: RefWeights,
    readonly prefix = '',
    readonly used: Set<string> = new Set(),
  ) {}
  sub(name: string): Params {
    return new Params(this.map, `${this.prefix}${name}.`, this.used);
  }
  has(name: string): boolean {
    return this.map.has(this.prefix + name);
  }
  get(name: string, shape?: number[]): Arr {
    const full = this.prefix + name;
    const w = this.map.get(full);
    if (!w) throw new Error(`ref unet: missing weight ${full}`);
    if (sizeOf(w.shape) !== w.data.length) throw new Error(`ref unet: ${full} has ${w.data.length} values for shape [${w.shape}]`);
    if (shape && !same(w.shape, shape)) throw new Error(`ref unet: ${full} has shape [${w.shape}], expected [${shape}]`);
    this.used.add(full);
    return { data: w.data instanceof Float64Array ? w.data : Float64Array.from(w.data), shape: w.shape };
  }
}

// ---------------------------------------------------------------------------------------------
// Primitives: the shared references, and a fast conv2d where the plain one (ref/conv.ts) would be too
// slow for many forwards (unet-grad.test.ts checks the two agree).

/**
 * conv2d of x [N, C, H, W] with w [O, C, kh, kw] (groups 1), bias [O] or null, square stride/padding:
 * im2col (zero-padded columns) then out[o, :] += w[o, k]·col[k, :], so the inner loops are long.
 */
export function conv2d(x: Arr, w: Arr, bias: Arr | null, stride = 1, padding = 0): Arr {
  const [n, c, h, wd] = x.shape;
  const [o, ci, kh, kw] = w.shape;
  if (ci !== c) throw new Error(`ref conv2d: input has ${c} channels, weight expects ${ci}`);
  if (bias && bias.data.length !== o) throw new Error('ref conv2d: bias size');
  const oh = Math.floor((h + 2 * padding - kh) / stride) + 1;
  const ow = Math.floor((wd + 2 * padding - kw) / stride) + 1;
  const ohw = oh * ow;
  const K = c * kh * kw;
  const out = new Float64Array(n * o * ohw);
  const X = x.data;
  const W = w.data;
  const col = new Float64Array(K * ohw);
  for (let b = 0; b < n; b++) {
    col.fill(0);
    for (let cc = 0; cc < c; cc++)
      for (let ky = 0; ky < kh; ky++)
        for (let kx = 0; kx < kw; kx++) {
          const cb = ((cc * kh + ky) * kw + kx) * ohw;
          for (let oy = 0; oy < oh; oy++) {
            const iy = oy * stride - padding + ky;
            if (iy < 0 || iy >= h) continue;
            const xrow = ((b * c + cc) * h + iy) * wd;
            for (let ox = 0; ox < ow; ox++) {
              const ix = ox * stride - padding + kx;
              if (ix >= 0 && ix < wd) col[cb + oy * ow + ox] = X[xrow + ix];
            }
          }
        }
    for (let oc = 0; oc < o; oc++) {
      const ob = (b * o + oc) * ohw;
      if (bias) out.fill(bias.data[oc], ob, ob + ohw);
      const wb = oc * K;
      let k = 0;
      for (; k + 3 < K; k += 4) {
        const w0 = W[wb + k], w1 = W[wb + k + 1], w2 = W[wb + k + 2], w3 = W[wb + k + 3];
        const c0 = k * ohw, c1 = c0 + ohw, c2 = c1 + ohw, c3 = c2 + ohw;
        for (let s = 0; s < ohw; s++) out[ob + s] += w0 * col[c0 + s] + w1 * col[c1 + s] + w2 * col[c2 + s] + w3 * col[c3 + s];
      }
      for (; k < K; k++) {
        const wv = W[wb + k];
        const c0 = k * ohw;
        for (let s = 0; s < ohw; s++) out[ob + s] += wv * col[c0 + s];
      }
    }
  }
  return { data: out, shape: [n, o, oh, ow] };
}

/** x [..., K] · Wᵀ + b with W [N, K] (PyTorch Linear layout), by the shared matmul reference. */
function linear(x: Arr, w: Arr, bias: Arr | null): Arr {
  const [nOut, k] = w.shape;
  const kIn = x.shape[x.shape.length - 1];
  if (kIn !== k) throw new Error(`ref linear: input has ${kIn} features, weight expects ${k}`);
  const y = refMatmul(x.data, [x.data.length / k, k], w.data, w.shape, { transB: true, bias: bias?.data });
  return { data: y.data, shape: [...x.shape.slice(0, -1), nOut] };
}

const map = (x: Arr, f: (v: number) => number): Arr => ({ data: x.data.map(f), shape: x.shape });
const add = (a: Arr, b: Arr): Arr => {
  if (!same(a.shape, b.shape)) throw new Error(`ref add: shapes [${a.shape}] and [${b.shape}]`);
  return { data: a.data.map((v, i) => v + b.data[i]), shape: a.shape };
};

/** torch.cat along dim 1 of [N, C, H, W] tensors. */
function concatChannels(a: Arr, b: Arr): Arr {
  const [n, ca, h, w] = a.shape;
  const cb = b.shape[1];
  if (b.shape[0] !== n || b.shape[2] !== h || b.shape[3] !== w) throw new Error('ref concat: shapes');
  const hw = h * w;
  const out = new Float64Array(n * (ca + cb) * hw);
  for (let i = 0; i < n; i++) {
    out.set(a.data.subarray(i * ca * hw, (i + 1) * ca * hw), i * (ca + cb) * hw);
    out.set(b.data.subarray(i * cb * hw, (i + 1) * cb * hw), (i * (ca + cb) + ca) * hw);
  }
  return { data: out, shape: [n, ca + cb, h, w] };
}

function groupNorm(p: Params, x: Arr, groups: number, eps: number): Arr {
  const c = x.shape[1];
  const w = p.get('weight', [c]);
  const b = p.get('bias', [c]);
  return { data: refGroupNorm(x.data, x.shape, groups, w.data, b.data, eps), shape: x.shape };
}

function layerNorm(p: Params, x: Arr, eps = 1e-5): Arr {
  const c = x.shape[x.shape.length - 1];
  return { data: refLayerNorm(x.data, c, p.get('weight', [c]).data, p.get('bias', [c]).data, eps), shape: x.shape };
}

const linearP = (p: Params, x: Arr, bias = true): Arr => linear(x, p.get('weight'), bias ? p.get('bias') : null);
const convP = (p: Params, x: Arr, stride = 1, padding = 0): Arr => conv2d(x, p.get('weight'), p.get('bias'), stride, padding);

/** [N, C, H, W] → [N, H·W, C] (diffusers' permute(0, 2, 3, 1).reshape). */
function toTokens(x: Arr): Arr {
  const [n, c, h, w] = x.shape;
  const hw = h * w;
  const out = new Float64Array(x.data.length);
  for (let b = 0; b < n; b++) for (let ch = 0; ch < c; ch++) for (let s = 0; s < hw; s++) out[(b * hw + s) * c + ch] = x.data[(b * c + ch) * hw + s];
  return { data: out, shape: [n, hw, c] };
}

function toImage(x: Arr, h: number, w: number): Arr {
  const [n, hw, c] = x.shape;
  const out = new Float64Array(x.data.length);
  for (let b = 0; b < n; b++) for (let ch = 0; ch < c; ch++) for (let s = 0; s < hw; s++) out[(b * c + ch) * hw + s] = x.data[(b * hw + s) * c + ch];
  return { data: out, shape: [n, c, h, w] };
}

// ---------------------------------------------------------------------------------------------
// Blocks

export interface RefResnetOptions {
  groups: number;
  eps: number;
  /** diffusers' output_scale_factor (the sum is divided by it); 1 by default. */
  outputScaleFactor?: number;
  /** Collects the full names of the weights read. */
  used?: Set<string>;
}

/**
 * diffusers' ResnetBlock2D (time_embedding_norm "default", SiLU, no up/down): x [N, Cin, H, W], `temb`
 * the RAW time embedding [N, T] (SiLU is applied here, as diffusers does) or null without a time input.
 */
export function refResnetBlock2D(weights: RefWeights, prefix: string, x: Arr, temb: Arr | null, o: RefResnetOptions): Arr {
  return resnet(new Params(weights, withDot(prefix), o.used), x, temb, o);
}

function resnet(p: Params, x: Arr, temb: Arr | null, o: RefResnetOptions): Arr {
  const [n, cin, hgt, wid] = x.shape;
  let h = map(groupNorm(p.sub('norm1'), x, o.groups, o.eps), silu);
  h = convP(p.sub('conv1'), h, 1, 1);
  const cout = h.shape[1];
  if (temb) {
    const t = linearP(p.sub('time_emb_proj'), map(temb, silu)); // [N, Cout]
    if (!same(t.shape, [n, cout])) throw new Error(`ref resnet: time projection shape [${t.shape}]`);
    const hw = hgt * wid;
    for (let b = 0; b < n; b++) for (let c = 0; c < cout; c++) for (let s = 0; s < hw; s++) h.data[(b * cout + c) * hw + s] += t.data[b * cout + c];
  }
  h = map(groupNorm(p.sub('norm2'), h, o.groups, o.eps), silu);
  // dropout: identity at inference
  h = convP(p.sub('conv2'), h, 1, 1);
  const skip = cin !== cout ? convP(p.sub('conv_shortcut'), x) : x;
  const scale = o.outputScaleFactor ?? 1;
  return { data: skip.data.map((v, i) => (v + h.data[i]) / scale), shape: h.shape };
}

/** diffusers' Attention (AttnProcessor): q from x, k and v from context, no q/k/v bias, to_out.0 with bias. */
function attention(p: Params, x: Arr, context: Arr, heads: number): Arr {
  const q = linearP(p.sub('to_q'), x, false);
  const k = linearP(p.sub('to_k'), context, false);
  const v = linearP(p.sub('to_v'), context, false);
  const [n, sq, inner] = q.shape;
  const sk = k.shape[1];
  if (inner % heads !== 0) throw new Error(`ref attention: ${inner} channels for ${heads} heads`);
  // Head hh of token i is channels hh·D … hh·D + D − 1 (head_to_batch_dim); softmax(q·kᵀ/√D)·v per head.
  const merged = multiHeadAttentionRef(q.data, k.data, v.data, { N: n, Sq: sq, Sk: sk, heads });
  return linearP(p.sub('to_out.0'), { data: merged, shape: [n, sq, inner] });
}

/** FeedForward with GEGLU: proj → (hidden, gate) = chunk(2, −1); hidden·gelu(gate) → net.2. */
function feedForward(p: Params, x: Arr): Arr {
  const hg = linearP(p.sub('net.0.proj'), x);
  const two = hg.shape[hg.shape.length - 1];
  const inner = two / 2;
  const rows = hg.data.length / two;
  const act = new Float64Array(rows * inner);
  for (let r = 0; r < rows; r++) for (let j = 0; j < inner; j++) act[r * inner + j] = hg.data[r * two + j] * gelu(hg.data[r * two + inner + j]);
  return linearP(p.sub('net.2'), { data: act, shape: [...hg.shape.slice(0, -1), inner] });
}

function basicTransformerBlock(p: Params, x: Arr, context: Arr, heads: number): Arr {
  const n1 = layerNorm(p.sub('norm1'), x);
  let h = add(attention(p.sub('attn1'), n1, n1, heads), x);
  h = add(attention(p.sub('attn2'), layerNorm(p.sub('norm2'), h), context, heads), h);
  return add(feedForward(p.sub('ff'), layerNorm(p.sub('norm3'), h)), h);
}

export interface RefTransformerOptions {
  heads: number;
  groups: number;
  /** SD2's Linear proj_in/proj_out on tokens; false: SD1's 1×1 convolutions on the image. */
  linearProjection: boolean;
  /** transformer_blocks (diffusers 0.15's UNet blocks always use 1). */
  layers?: number;
  /** Collects the full names of the weights read. */
  used?: Set<string>;
}

/** Continuous-input Transformer2DModel: x [N, C, H, W], context [N, S, cross_dim] → [N, C, H, W]. */
export function refTransformer2D(weights: RefWeights, prefix: string, x: Arr, context: Arr, o: RefTransformerOptions): Arr {
  return transformer2D(new Params(weights, withDot(prefix), o.used), x, context, o);
}

function transformer2D(p: Params, x: Arr, context: Arr, o: RefTransformerOptions): Arr {
  const [, , h, w] = x.shape;
  const normed = groupNorm(p.sub('norm'), x, o.groups, 1e-6);
  let t = o.linearProjection ? linearP(p.sub('proj_in'), toTokens(normed)) : toTokens(convP(p.sub('proj_in'), normed));
  for (let i = 0; i < (o.layers ?? 1); i++) t = basicTransformerBlock(p.sub(`transformer_blocks.${i}`), t, context, o.heads);
  const out = o.linearProjection ? toImage(linearP(p.sub('proj_out'), t), h, w) : convP(p.sub('proj_out'), toImage(t, h, w));
  return add(out, x);
}

// ---------------------------------------------------------------------------------------------
// Time embedding

/**
 * diffusers' get_timestep_embedding, evaluated like torch does in float32 (each step rounded to f32),
 * because the goldens were made that way and t·freq reaches ~1000 rad (f64 would differ by ~1e-5 there).
 */
export function refTimestepEmbedding(timesteps: readonly number[], dim: number, flipSinToCos: boolean, freqShift: number, maxPeriod = 10000): Arr {
  const f = Math.fround;
  const half = Math.floor(dim / 2);
  const out = new Float64Array(timesteps.length * dim);
  const negLog = f(-Math.log(maxPeriod));
  for (let b = 0; b < timesteps.length; b++) {
    for (let i = 0; i < half; i++) {
      const freq = f(Math.exp(f(f(negLog * i) / (half - freqShift))));
      const arg = f(f(timesteps[b]) * freq);
      const s = f(Math.sin(arg));
      const c = f(Math.cos(arg));
      out[b * dim + (flipSinToCos ? half + i : i)] = s;
      out[b * dim + (flipSinToCos ? i : half + i)] = c;
    }
    // odd dim: the last column is zero padding
  }
  return { data: out, shape: [timesteps.length, dim] };
}

// ---------------------------------------------------------------------------------------------
// UNet

export interface RefUNetInputs {
  sample: Arr;
  /** One per batch element, or one for all. */
  timestep: number | readonly number[];
  /** [N, S, cross_attention_dim]; for the Emb model, give imageEmbedding instead. */
  encoderHiddenStates?: Arr;
  /** UNet2DConditionModelEmb: [N, input_dim] → emb_proj_layers → [N, proj_n, emb_dim]. */
  imageEmbedding?: Arr;
}

const asList = (v: unknown, n: number): unknown[] => (Array.isArray(v) ? v : Array.from({ length: n }, () => v));

/** Throws for config values this reference does not implement (so nothing is silently ignored). */
function checkConfig(c: Record<string, any>): void {
  const expect = (key: string, ok: (v: any) => boolean) => {
    if (key in c && !ok(c[key])) throw new Error(`ref unet: unsupported ${key} = ${JSON.stringify(c[key])}`);
  };
  const nullish = (v: any) => v === null || v === undefined;
  expect('act_fn', (v) => v === 'silu');
  expect('class_embed_type', nullish);
  expect('num_class_embeds', nullish);
  expect('time_cond_proj_dim', nullish);
  expect('timestep_post_act', nullish);
  expect('time_embedding_type', (v) => v === 'positional');
  expect('resnet_time_scale_shift', (v) => v === 'default');
  expect('mid_block_type', (v) => v === 'UNetMidBlock2DCrossAttn');
  expect('dual_cross_attention', (v) => !v);
  expect('upcast_attention', (v) => !v);
  expect('only_cross_attention', (v) => (Array.isArray(v) ? v.every((x) => !x) : !v));
  expect('conv_in_kernel', (v) => v === 3);
  expect('conv_out_kernel', (v) => v === 3);
  expect('encoder_hid_dim', nullish);
  expect('addition_embed_type', nullish);
  for (const t of c.down_block_types) if (t !== 'DownBlock2D' && t !== 'CrossAttnDownBlock2D') throw new Error(`ref unet: down block ${t}`);
  for (const t of c.up_block_types) if (t !== 'UpBlock2D' && t !== 'CrossAttnUpBlock2D') throw new Error(`ref unet: up block ${t}`);
}

/**
 * UNet2DConditionModel(.Emb)'s forward in float64: returns `.sample` [N, out_channels, H, W].
 * Every weight in `weights` must be read (an unused one is an error: it would be a layer the
 * reference does not know).
 */
export function refUNet2DCondition(config: Record<string, any>, weights: RefWeights, inputs: RefUNetInputs): Arr {
  checkConfig(config);
  const P = new Params(weights);
  const nBlocks = config.block_out_channels.length as number;
  const heads = asList(config.attention_head_dim, nBlocks) as number[];
  const groups = config.norm_num_groups as number;
  const eps = config.norm_eps as number;
  const linearProjection = !!config.use_linear_projection;
  const sample0 = inputs.sample;
  const n = sample0.shape[0];

  let context: Arr;
  if (inputs.imageEmbedding) {
    const proj = linearP(P.sub('emb_proj_layers'), inputs.imageEmbedding);
    context = { data: proj.data, shape: [n, config.proj_n, config.emb_dim] };
    if (proj.data.length !== n * config.proj_n * config.emb_dim) throw new Error('ref unet: emb_proj_layers width');
  } else if (inputs.encoderHiddenStates) context = inputs.encoderHiddenStates;
  else throw new Error('ref unet: needs encoderHiddenStates or imageEmbedding');

  // time
  const ts = (Array.isArray(inputs.timestep) ? inputs.timestep : Array.from({ length: n }, () => inputs.timestep)) as number[];
  if (ts.length !== n) throw new Error('ref unet: one timestep per batch element');
  const tProj = refTimestepEmbedding(ts, config.block_out_channels[0], !!config.flip_sin_to_cos, config.freq_shift ?? 0);
  const temb = linearP(P.sub('time_embedding.linear_2'), map(linearP(P.sub('time_embedding.linear_1'), tProj), silu));

  const upFactor = 2 ** (nBlocks - 1);
  if (sample0.shape[2] % upFactor !== 0 || sample0.shape[3] % upFactor !== 0)
    throw new Error('ref unet: sizes not divisible by the total down factor are not implemented');

  let h = config.center_input_sample ? map(sample0, (v) => 2 * v - 1) : sample0;
  h = convP(P.sub('conv_in'), h, 1, 1);
  const skips: Arr[] = [h];
  config.down_block_types.forEach((type: string, i: number) => {
    const bp = P.sub(`down_blocks.${i}`);
    for (let j = 0; j < config.layers_per_block; j++) {
      h = resnet(bp.sub(`resnets.${j}`), h, temb, { groups, eps });
      if (type === 'CrossAttnDownBlock2D') h = transformer2D(bp.sub(`attentions.${j}`), h, context, { heads: heads[i], groups, linearProjection });
      skips.push(h);
    }
    if (i < nBlocks - 1) {
      const pad = config.downsample_padding ?? 1;
      let x = h;
      if (pad === 0) x = padBottomRight(x); // diffusers pads (0, 1, 0, 1) when padding = 0
      h = convP(bp.sub('downsamplers.0.conv'), x, 2, pad);
      skips.push(h);
    }
  });

  // mid block
  const mp = P.sub('mid_block');
  const midScale = config.mid_block_scale_factor ?? 1;
  h = resnet(mp.sub('resnets.0'), h, temb, { groups, eps, outputScaleFactor: midScale });
  h = transformer2D(mp.sub('attentions.0'), h, context, { heads: heads[nBlocks - 1], groups, linearProjection });
  h = resnet(mp.sub('resnets.1'), h, temb, { groups, eps, outputScaleFactor: midScale });

  const upHeads = [...heads].reverse();
  config.up_block_types.forEach((type: string, i: number) => {
    const bp = P.sub(`up_blocks.${i}`);
    const layers = config.layers_per_block + 1;
    for (let j = 0; j < layers; j++) {
      const skip = skips.pop();
      if (!skip) throw new Error('ref unet: ran out of skip connections');
      h = resnet(bp.sub(`resnets.${j}`), concatChannels(h, skip), temb, { groups, eps });
      if (type === 'CrossAttnUpBlock2D') h = transformer2D(bp.sub(`attentions.${j}`), h, context, { heads: upHeads[i], groups, linearProjection });
    }
    if (i < nBlocks - 1) h = convP(bp.sub('upsamplers.0.conv'), { data: refUpsample2x(h.data, h.shape), shape: [h.shape[0], h.shape[1], 2 * h.shape[2], 2 * h.shape[3]] }, 1, 1);
  });
  if (skips.length !== 0) throw new Error(`ref unet: ${skips.length} skip connections left over`);

  h = map(groupNorm(P.sub('conv_norm_out'), h, groups, eps), silu);
  h = convP(P.sub('conv_out'), h, 1, 1);

  const unused = [...weights.keys()].filter((k) => !P.used.has(k));
  if (unused.length) throw new Error(`ref unet: ${unused.length} weights not used: ${unused.slice(0, 5).join(', ')}`);
  return h;
}

function padBottomRight(x: Arr): Arr {
  const [n, c, h, w] = x.shape;
  const out = new Float64Array(n * c * (h + 1) * (w + 1));
  for (let nc = 0; nc < n * c; nc++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) out[(nc * (h + 1) + y) * (w + 1) + xx] = x.data[(nc * h + y) * w + xx];
  return { data: out, shape: [n, c, h + 1, w + 1] };
}

/** Copies a weight map to float64 (so finite differences can perturb it in place without f32 rounding). */
export function toFloat64Weights(weights: Map<string, { shape: number[]; data: ArrayLike<number> }>): Map<string, { shape: number[]; data: Float64Array }> {
  return new Map([...weights].map(([k, v]) => [k, { shape: [...v.shape], data: Float64Array.from(v.data) }]));
}
