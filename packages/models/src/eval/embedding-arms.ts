// Scoring generated image embeddings as a distribution, and the trivial arms every prior is compared
// with: the text embedding used as the image embedding as is, and a ridge-regression map from text
// to image embedding fit on the training pairs. A prior exists to sample the distribution of image
// embeddings given a caption, which a single-sample cosine does not measure; the Fréchet distance and
// k-NN precision/recall against the real held-out image embeddings do.
import { frechetDistanceOfRows, precisionRecall } from './distribution.ts';
import { scoreEmbeddings, type PriorMetrics } from './retrieval.ts';

export interface ArmMetrics extends PriorMetrics {
  /** Fréchet distance between the generated and the real image embeddings (Gaussians fitted to each). */
  frechet: number;
  /** k-NN (k = 3) manifold precision and recall of the generated against the real image embeddings. */
  precision: number;
  recall: number;
}

export interface Pairs {
  text: Float32Array;
  image: Float32Array;
  dim: number;
  count: number;
}

/** Every metric of one arm's generated embeddings [count, dim] for the held-out pairs. */
export function scoreArm(generated: Float32Array, heldOut: Pairs): ArmMetrics {
  const { precision, recall } = precisionRecall(heldOut.image, generated, heldOut.dim, 3);
  return { ...scoreEmbeddings(generated, heldOut), frechet: frechetDistanceOfRows(generated, heldOut.image, heldOut.dim), precision, recall };
}

/**
 * Ridge regression from text to image embedding with a bias, fit on `train` in float64:
 * W = (XᵀX + λI)⁻¹ XᵀY over rows [text, 1] (the bias unpenalised). λ is fixed, not tuned: 1e-3 times
 * the mean diagonal of XᵀX, enough to keep the solve well conditioned.
 */
export function fitRidgeMap(train: Pairs): (text: Float32Array) => Float32Array {
  const { dim, count } = train;
  const p = dim + 1;
  const xtx = new Float64Array(p * p);
  const xty = new Float64Array(p * dim);
  const row = new Float64Array(p);
  for (let r = 0; r < count; r++) {
    for (let i = 0; i < dim; i++) row[i] = train.text[r * dim + i];
    row[dim] = 1;
    for (let i = 0; i < p; i++) {
      for (let j = 0; j < p; j++) xtx[i * p + j] += row[i] * row[j];
      for (let j = 0; j < dim; j++) xty[i * dim + j] += row[i] * train.image[r * dim + j];
    }
  }
  let meanDiag = 0;
  for (let i = 0; i < dim; i++) meanDiag += xtx[i * p + i] / dim;
  for (let i = 0; i < dim; i++) xtx[i * p + i] += 1e-3 * meanDiag;
  const w = solveSymmetric(xtx, xty, p, dim);
  return (text: Float32Array) => {
    const n = text.length / dim;
    const out = new Float32Array(n * dim);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < dim; j++) {
        let s = w[dim * dim + j];
        for (let i = 0; i < dim; i++) s += text[r * dim + i] * w[i * dim + j];
        out[r * dim + j] = s;
      }
    }
    return out;
  };
}

/** Solves A·X = B for symmetric positive-definite A [p, p] and B [p, m] by Cholesky, in float64. */
export function solveSymmetric(a: Float64Array, b: Float64Array, p: number, m: number): Float64Array {
  const l = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * p + j];
      for (let k = 0; k < j; k++) s -= l[i * p + k] * l[j * p + k];
      if (i === j) {
        if (!(s > 0)) throw new Error(`solveSymmetric: the matrix is not positive definite (pivot ${i} is ${s})`);
        l[i * p + i] = Math.sqrt(s);
      } else l[i * p + j] = s / l[j * p + j];
    }
  }
  const x = new Float64Array(p * m);
  for (let c = 0; c < m; c++) {
    const y = new Float64Array(p);
    for (let i = 0; i < p; i++) {
      let s = b[i * m + c];
      for (let k = 0; k < i; k++) s -= l[i * p + k] * y[k];
      y[i] = s / l[i * p + i];
    }
    for (let i = p - 1; i >= 0; i--) {
      let s = y[i];
      for (let k = i + 1; k < p; k++) s -= l[k * p + i] * x[k * m + c];
      x[i * m + c] = s / l[i * p + i];
    }
  }
  return x;
}
