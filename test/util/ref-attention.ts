// Float64 CPU reference for scaled-dot-product attention and its analytic gradients.
// Layouts as in @sd/kernels: q [B, H, Sq, D], k and v [B, H, Sk, D], mask [B, Sk] (0 = masked).

export interface AttentionDims {
  B: number;
  H: number;
  Sq: number;
  Sk: number;
  D: number;
}

export interface AttentionRefOptions {
  scale?: number;
  causal?: boolean;
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
  const { B, H, Sq, Sk, D } = dims;
  const { P, lse } = probabilities(q, k, dims, opts);
  const out = new Float64Array(B * H * Sq * D);
  for (let bh = 0; bh < B * H; bh++) {
    for (let i = 0; i < Sq; i++) {
      for (let j = 0; j < Sk; j++) {
        const pij = P[(bh * Sq + i) * Sk + j];
        if (pij === 0) continue;
        for (let d = 0; d < D; d++) out[(bh * Sq + i) * D + d] += pij * v[(bh * Sk + j) * D + d];
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
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const { P } = probabilities(q, k, dims, opts);
  const dq = new Float64Array(B * H * Sq * D);
  const dk = new Float64Array(B * H * Sk * D);
  const dv = new Float64Array(B * H * Sk * D);
  const dp = new Float64Array(Sk);
  for (let bh = 0; bh < B * H; bh++) {
    for (let i = 0; i < Sq; i++) {
      const row = (bh * Sq + i) * Sk;
      let rowDot = 0;
      for (let j = 0; j < Sk; j++) {
        let acc = 0;
        for (let d = 0; d < D; d++) acc += dout[(bh * Sq + i) * D + d] * v[(bh * Sk + j) * D + d];
        dp[j] = acc;
        rowDot += P[row + j] * acc;
      }
      for (let j = 0; j < Sk; j++) {
        const pij = P[row + j];
        if (pij === 0) continue;
        const ds = pij * (dp[j] - rowDot) * scale;
        for (let d = 0; d < D; d++) {
          dv[(bh * Sk + j) * D + d] += pij * dout[(bh * Sq + i) * D + d];
          dq[(bh * Sq + i) * D + d] += ds * k[(bh * Sk + j) * D + d];
          dk[(bh * Sk + j) * D + d] += ds * q[(bh * Sq + i) * D + d];
        }
      }
    }
  }
  return { dq, dk, dv };
}
