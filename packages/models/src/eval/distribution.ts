// Distances between two sets of feature vectors (rows of [N, dim] host matrices), in float64: the
// Fréchet distance (FID when the features are an image network's), the kernel inception distance
// (KID: unbiased MMD² with the cubic polynomial kernel, averaged over subsets), and k-NN manifold
// precision and recall (Kynkäänniemi et al., 2019). Model-independent: images are compared in a
// judge network's features, embeddings in CLIP space.

type Rows = ArrayLike<number>;

/** Mean [dim] and covariance [dim, dim] (unbiased, n − 1) of the rows. */
export function meanAndCovariance(x: Rows, dim: number): { mean: Float64Array; cov: Float64Array } {
  const n = x.length / dim;
  if (!Number.isInteger(n) || n < 2) throw new Error(`meanAndCovariance: need at least 2 rows of ${dim}, got ${x.length} values`);
  const mean = new Float64Array(dim);
  for (let r = 0; r < n; r++) for (let i = 0; i < dim; i++) mean[i] += x[r * dim + i];
  for (let i = 0; i < dim; i++) mean[i] /= n;
  const cov = new Float64Array(dim * dim);
  const c = new Float64Array(dim);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < dim; i++) c[i] = x[r * dim + i] - mean[i];
    for (let i = 0; i < dim; i++) for (let j = i; j < dim; j++) cov[i * dim + j] += c[i] * c[j];
  }
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      cov[i * dim + j] /= n - 1;
      cov[j * dim + i] = cov[i * dim + j];
    }
  }
  return { mean, cov };
}

/**
 * Eigenvalues and eigenvectors (columns of `vectors`, row-major [dim, dim]) of a symmetric matrix
 * by cyclic Jacobi rotations: slow (O(dim³) per sweep) but accurate to float64 round-off, which the
 * square root of a nearly singular covariance product needs.
 */
export function symmetricEigen(a: ArrayLike<number>, dim: number): { values: Float64Array; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) v[i * dim + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < dim; p++) for (let q = p + 1; q < dim; q++) off += m[p * dim + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < dim; p++) {
      for (let q = p + 1; q < dim; q++) {
        const apq = m[p * dim + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (m[q * dim + q] - m[p * dim + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < dim; k++) {
          const mkp = m[k * dim + p];
          const mkq = m[k * dim + q];
          m[k * dim + p] = c * mkp - s * mkq;
          m[k * dim + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < dim; k++) {
          const mpk = m[p * dim + k];
          const mqk = m[q * dim + k];
          m[p * dim + k] = c * mpk - s * mqk;
          m[q * dim + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < dim; k++) {
          const vkp = v[k * dim + p];
          const vkq = v[k * dim + q];
          v[k * dim + p] = c * vkp - s * vkq;
          v[k * dim + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(dim);
  for (let i = 0; i < dim; i++) values[i] = m[i * dim + i];
  return { values, vectors: v };
}

/**
 * Fréchet distance between N(μ₁, Σ₁) and N(μ₂, Σ₂): ‖μ₁−μ₂‖² + Tr Σ₁ + Tr Σ₂ − 2 Tr (Σ₁Σ₂)^{1/2},
 * with Tr (Σ₁Σ₂)^{1/2} = Σ √λ over the eigenvalues λ of the symmetric Σ₁^{1/2} Σ₂ Σ₁^{1/2}
 * (negative round-off clamped to 0).
 */
export function frechetDistance(a: { mean: ArrayLike<number>; cov: ArrayLike<number> }, b: { mean: ArrayLike<number>; cov: ArrayLike<number> }, dim: number): number {
  let meanTerm = 0;
  for (let i = 0; i < dim; i++) meanTerm += (a.mean[i] - b.mean[i]) ** 2;
  let traces = 0;
  for (let i = 0; i < dim; i++) traces += a.cov[i * dim + i] + b.cov[i * dim + i];
  const rootA = symmetricSqrt(a.cov, dim);
  const inner = matmul(matmul(rootA, Float64Array.from(b.cov), dim), rootA, dim);
  for (let i = 0; i < dim; i++) for (let j = i + 1; j < dim; j++) inner[i * dim + j] = inner[j * dim + i] = (inner[i * dim + j] + inner[j * dim + i]) / 2;
  let crossTrace = 0;
  for (const l of symmetricEigen(inner, dim).values) crossTrace += Math.sqrt(Math.max(0, l));
  return meanTerm + traces - 2 * crossTrace;
}

/**
 * The Fréchet distance between the Gaussians fitted to two sets of rows (FID in an image network's
 * features). With fewer rows than dimensions it takes the Gram-matrix route (the same value).
 */
export function frechetDistanceOfRows(x: Rows, y: Rows, dim: number): number {
  if (Math.min(x.length, y.length) / dim < dim) return frechetDistanceGram(x, y, dim);
  return frechetDistance(meanAndCovariance(x, dim), meanAndCovariance(y, dim), dim);
}

/**
 * The Fréchet distance of two sets of rows through their Gram matrices, for when there are fewer
 * rows than dimensions (512-d embeddings of a hundred pairs): with the centred rows X₁ [n₁, d] and
 * X₂ [n₂, d], Σᵢ = XᵢᵀXᵢ/(nᵢ − 1), the nonzero eigenvalues of Σ₁Σ₂ are those of M Mᵀ/((n₁ − 1)(n₂ − 1))
 * with M = X₁X₂ᵀ, so Tr (Σ₁Σ₂)^{1/2} needs an n×n eigendecomposition instead of two d×d ones.
 */
export function frechetDistanceGram(x: Rows, y: Rows, dim: number): number {
  const centred = (r: Rows) => {
    const n = r.length / dim;
    if (!Number.isInteger(n) || n < 2) throw new Error(`frechetDistanceGram: need at least 2 rows of ${dim}, got ${r.length} values`);
    const mean = new Float64Array(dim);
    for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += r[i * dim + d] / n;
    const c = new Float64Array(n * dim);
    for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) c[i * dim + d] = r[i * dim + d] - mean[d];
    return { n, mean, c };
  };
  let a = centred(x);
  let b = centred(y);
  let meanTerm = 0;
  for (let d = 0; d < dim; d++) meanTerm += (a.mean[d] - b.mean[d]) ** 2;
  let traces = 0;
  for (const { n, c } of [a, b]) {
    let s = 0;
    for (const v of c) s += v * v;
    traces += s / (n - 1);
  }
  if (b.n < a.n) [a, b] = [b, a]; // the smaller Gram side
  const m = new Float64Array(a.n * b.n);
  for (let i = 0; i < a.n; i++) for (let j = 0; j < b.n; j++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += a.c[i * dim + d] * b.c[j * dim + d];
    m[i * b.n + j] = s;
  }
  const mmt = new Float64Array(a.n * a.n);
  for (let i = 0; i < a.n; i++) for (let k = i; k < a.n; k++) {
    let s = 0;
    for (let j = 0; j < b.n; j++) s += m[i * b.n + j] * m[k * b.n + j];
    mmt[i * a.n + k] = mmt[k * a.n + i] = s;
  }
  let crossTrace = 0;
  for (const l of symmetricEigen(mmt, a.n).values) crossTrace += Math.sqrt(Math.max(0, l));
  crossTrace /= Math.sqrt((a.n - 1) * (b.n - 1));
  return meanTerm + traces - 2 * crossTrace;
}

function symmetricSqrt(a: ArrayLike<number>, dim: number): Float64Array {
  const { values, vectors } = symmetricEigen(a, dim);
  const out = new Float64Array(dim * dim);
  for (let k = 0; k < dim; k++) {
    const r = Math.sqrt(Math.max(0, values[k]));
    for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) out[i * dim + j] += vectors[i * dim + k] * r * vectors[j * dim + k];
  }
  return out;
}

function matmul(a: Float64Array, b: Float64Array, dim: number): Float64Array {
  const out = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) for (let k = 0; k < dim; k++) for (let j = 0; j < dim; j++) out[i * dim + j] += a[i * dim + k] * b[k * dim + j];
  return out;
}

/** The cubic polynomial kernel of KID: (x·y / dim + 1)³. */
function cubicKernel(x: Rows, i: number, y: Rows, j: number, dim: number): number {
  let dot = 0;
  for (let d = 0; d < dim; d++) dot += x[i * dim + d] * y[j * dim + d];
  return (dot / dim + 1) ** 3;
}

/**
 * Unbiased MMD² between the rows of x and y with the cubic polynomial kernel (no k(x, x) self
 * terms): mean k(xᵢ, xⱼ) + mean k(yᵢ, yⱼ) over i ≠ j − 2 mean k(xᵢ, yⱼ). Its expectation is 0 when
 * both sets come from one distribution (so single values can be negative).
 */
export function mmd2Unbiased(x: Rows, y: Rows, dim: number): number {
  const m = x.length / dim;
  const n = y.length / dim;
  if (m < 2 || n < 2) throw new Error(`mmd2Unbiased: each set needs at least 2 rows (got ${m} and ${n})`);
  let kxx = 0;
  for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) kxx += 2 * cubicKernel(x, i, x, j, dim);
  let kyy = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) kyy += 2 * cubicKernel(y, i, y, j, dim);
  let kxy = 0;
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) kxy += cubicKernel(x, i, y, j, dim);
  return kxx / (m * (m - 1)) + kyy / (n * (n - 1)) - (2 * kxy) / (m * n);
}

/**
 * KID: mean and standard deviation of the unbiased MMD² over `subsets` random subsets of
 * `subsetSize` rows of each set (drawn without replacement within a subset, from `random`, a
 * uniform [0, 1) source, so the result is reproducible).
 */
export function kernelInceptionDistance(x: Rows, y: Rows, dim: number, options: { subsets?: number; subsetSize?: number; random: () => number }): { mean: number; std: number } {
  const m = x.length / dim;
  const n = y.length / dim;
  const size = Math.min(options.subsetSize ?? 1000, m, n);
  const subsets = options.subsets ?? 100;
  const pick = (rows: Rows, count: number): Float64Array => {
    const order = Array.from({ length: count }, (_, i) => i);
    for (let i = 0; i < size; i++) {
      const j = i + Math.floor(options.random() * (count - i));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const out = new Float64Array(size * dim);
    for (let i = 0; i < size; i++) for (let d = 0; d < dim; d++) out[i * dim + d] = rows[order[i] * dim + d];
    return out;
  };
  const values: number[] = [];
  for (let s = 0; s < subsets; s++) values.push(mmd2Unbiased(pick(x, m), pick(y, n), dim));
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / Math.max(1, values.length - 1));
  return { mean, std };
}

/**
 * k-NN manifold precision and recall (Kynkäänniemi et al., 2019): each set's manifold is the union
 * of balls around its rows with radius the distance to the row's k-th nearest neighbour in the same
 * set; precision is the share of generated rows inside the real manifold, recall the share of real
 * rows inside the generated one.
 */
export function precisionRecall(real: Rows, generated: Rows, dim: number, k = 3): { precision: number; recall: number } {
  const radii = (x: Rows): Float64Array => {
    const n = x.length / dim;
    if (n <= k) throw new Error(`precisionRecall: a set of ${n} rows has no ${k}-th neighbour`);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const d: number[] = [];
      for (let j = 0; j < n; j++) if (j !== i) d.push(distance2(x, i, x, j, dim));
      d.sort((a, b) => a - b);
      out[i] = d[k - 1];
    }
    return out;
  };
  const inside = (points: Rows, centres: Rows, r2: Float64Array): number => {
    const n = points.length / dim;
    let count = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < r2.length; j++) {
        if (distance2(points, i, centres, j, dim) <= r2[j]) {
          count++;
          break;
        }
      }
    }
    return count / n;
  };
  return { precision: inside(generated, real, radii(real)), recall: inside(real, generated, radii(generated)) };
}

function distance2(x: Rows, i: number, y: Rows, j: number, dim: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) s += (x[i * dim + d] - y[j * dim + d]) ** 2;
  return s;
}
