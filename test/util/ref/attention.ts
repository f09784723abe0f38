// Float64 CPU reference for scaled-dot-product attention and its analytic gradients: the one
// attention reference of the tests (kernels, autograd gradient checks, MultiheadAttention, the UNet).
// Layouts as in @sd/kernels: q [B, H, Sq, D], k [B, H, Sk, D], v [B, H, Sk, Dv], mask [B, Sk] (0 = masked).

export interface AttentionDims {
  B: number;
  H: number;
  Sq: number;
  Sk: number;
  D: number;
  /** v's (and the output's) last dimension; D when absent. */
  Dv?: number;
}

export interface AttentionRefOptions {
  scale?: number;
  /** Query i attends to keys j ≤ i (top-left aligned, like PyTorch's is_causal). */
  causal?: boolean;
  /** [B, Sk], 0 = masked. */
  mask?: ArrayLike<number>;
}

/** Probabilities P [B·H, Sq, Sk] (all-masked rows are 0) and lse [B·H·Sq] (−Infinity for them). */
function probabilities(q: ArrayLike<number>, k: ArrayLike<number>, dims: AttentionDims, opts: AttentionRefOptions) {
  const { B, H, Sq, Sk, D } = dims;
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const P = new Float64Array(B * H * Sq * Sk);
  const lse = new Float64Array(B * H * Sq);
  const s = new Float64Array(Sk);
  const visible = new Array<boolean>(Sk);
  for (let bh = 0; bh < B * H; bh++) {
    const b = Math.floor(bh / H);
    for (let i = 0; i < Sq; i++) {
      let max = -Infinity;
      for (let j = 0; j < Sk; j++) {
        visible[j] = (!opts.mask || opts.mask[b * Sk + j] !== 0) && (!opts.causal || j <= i);
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[(bh * Sq + i) * D + d] * k[(bh * Sk + j) * D + d];
        s[j] = dot * scale;
        if (visible[j]) max = Math.max(max, s[j]);
      }
      const row = (bh * Sq + i) * Sk;
      if (max === -Infinity) {
        lse[bh * Sq + i] = -Infinity;
        continue;
      }
      let sum = 0;
      for (let j = 0; j < Sk; j++) if (visible[j]) sum += Math.exp(s[j] - max);
      for (let j = 0; j < Sk; j++) P[row + j] = visible[j] ? Math.exp(s[j] - max) / sum : 0;
      lse[bh * Sq + i] = max + Math.log(sum);
    }
  }
  return { P, lse };
}

export function attentionRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  dims: AttentionDims,
  opts: AttentionRefOptions = {},
): { out: Float64Array; lse: Float64Array } {
  const { B, H, Sq, Sk } = dims;
  const Dv = dims.Dv ?? dims.D;
  const { P, lse } = probabilities(q, k, dims, opts);
  const out = new Float64Array(B * H * Sq * Dv);
  for (let bh = 0; bh < B * H; bh++) {
    for (let i = 0; i < Sq; i++) {
      for (let j = 0; j < Sk; j++) {
        const pij = P[(bh * Sq + i) * Sk + j];
        if (pij === 0) continue;
        for (let d = 0; d < Dv; d++) out[(bh * Sq + i) * Dv + d] += pij * v[(bh * Sk + j) * Dv + d];
      }
    }
  }
  return { out, lse };
}

/** Analytic gradients: dV = Pᵀ dO, dS = P ⊙ (dO Vᵀ − rowsum(P ⊙ dO Vᵀ)), dQ = scale·dS K, dK = scale·dSᵀ Q. */
export function attentionBackwardRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  dout: ArrayLike<number>,
  dims: AttentionDims,
  opts: AttentionRefOptions = {},
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { B, H, Sq, Sk, D } = dims;
  const Dv = dims.Dv ?? D;
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const { P } = probabilities(q, k, dims, opts);
  const dq = new Float64Array(B * H * Sq * D);
  const dk = new Float64Array(B * H * Sk * D);
  const dv = new Float64Array(B * H * Sk * Dv);
  const dp = new Float64Array(Sk);
  for (let bh = 0; bh < B * H; bh++) {
    for (let i = 0; i < Sq; i++) {
      const row = (bh * Sq + i) * Sk;
      let rowDot = 0;
      for (let j = 0; j < Sk; j++) {
        let acc = 0;
        for (let d = 0; d < Dv; d++) acc += dout[(bh * Sq + i) * Dv + d] * v[(bh * Sk + j) * Dv + d];
        dp[j] = acc;
        rowDot += P[row + j] * acc;
      }
      for (let j = 0; j < Sk; j++) {
        const pij = P[row + j];
        if (pij === 0) continue;
        const ds = pij * (dp[j] - rowDot) * scale;
        for (let d = 0; d < Dv; d++) dv[(bh * Sk + j) * Dv + d] += pij * dout[(bh * Sq + i) * Dv + d];
        for (let d = 0; d < D; d++) {
          dq[(bh * Sq + i) * D + d] += ds * k[(bh * Sk + j) * D + d];
          dk[(bh * Sk + j) * D + d] += ds * q[(bh * Sq + i) * D + d];
        }
      }
    }
  }
  return { dq, dk, dv };
}

/**
 * Multi-head attention on token layouts: q [N, Sq, H·D], k [N, Sk, H·D], v [N, Sk, H·Dv] (head h of a
 * token is channels h·D … h·D + D − 1, as torch's MultiheadAttention and diffusers' head_to_batch_dim
 * split them) → [N, Sq, H·Dv]. The heads are split, attended by attentionRef and merged back.
 */
export function multiHeadAttentionRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  dims: { N: number; Sq: number; Sk: number; heads: number },
  opts: AttentionRefOptions = {},
): Float64Array {
  const { N, Sq, Sk, heads: H } = dims;
  const D = q.length / (N * Sq * H);
  const Dv = v.length / (N * Sk * H);
  const split = (x: ArrayLike<number>, s: number, d: number) => {
    const out = new Float64Array(x.length);
    for (let n = 0; n < N; n++) for (let t = 0; t < s; t++) for (let h = 0; h < H; h++) for (let e = 0; e < d; e++) out[((n * H + h) * s + t) * d + e] = x[(n * s + t) * H * d + h * d + e];
    return out;
  };
  const { out } = attentionRef(split(q, Sq, D), split(k, Sk, D), split(v, Sk, Dv), { B: N, H, Sq, Sk, D, Dv }, opts);
  const merged = new Float64Array(N * Sq * H * Dv);
  for (let n = 0; n < N; n++) for (let h = 0; h < H; h++) for (let t = 0; t < Sq; t++) for (let e = 0; e < Dv; e++) merged[(n * Sq + t) * H * Dv + h * Dv + e] = out[((n * H + h) * Sq + t) * Dv + e];
  return merged;
}
