// Float64 references of layerNorm and rmsNorm over rows of `cols`: forward, and forward with the
// analytic gradients (the kernel tests compare both; the autograd tests differentiate the forward).
import { refRowStats } from './reduce.ts';

/** LayerNorm over rows of `cols` (biased variance), with optional affine parameters. */
export function refLayerNorm(x: ArrayLike<number>, cols: number, w: ArrayLike<number> | null, b: ArrayLike<number> | null, eps: number): Float64Array {
  return refNormWithGrads(x, cols, eps, false, w, b, null).y;
}

export function refRmsNorm(x: ArrayLike<number>, cols: number, w: ArrayLike<number> | null, eps: number): Float64Array {
  return refNormWithGrads(x, cols, eps, true, w, null, null).y;
}

/** layerNorm (rms=false) or rmsNorm (rms=true): y, the row statistics and, given dy, dx, dw and db. */
export function refNormWithGrads(x: ArrayLike<number>, cols: number, eps: number, rms: boolean, w: ArrayLike<number> | null, b: ArrayLike<number> | null, dy: ArrayLike<number> | null) {
  const rows = x.length / cols;
  const { mean, rstd } = refRowStats(x, cols, eps, rms);
  const y = new Float64Array(x.length);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(cols);
  const db = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    let a = 0;
    let c2 = 0;
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const xh = (x[i] - mean[r]) * rstd[r];
      y[i] = xh * (w ? w[c] : 1) + (b ? b[c] : 0);
      if (!dy) continue;
      const g = dy[i] * (w ? w[c] : 1);
      a += g;
      c2 += g * xh;
      dw[c] += dy[i] * xh;
      db[c] += dy[i];
    }
    if (!dy) continue;
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const xh = (x[i] - mean[r]) * rstd[r];
      const g = dy[i] * (w ? w[c] : 1);
      dx[i] = rstd[r] * (g - (rms ? 0 : a / cols) - (xh * c2) / cols);
    }
  }
  return { y, mean, rstd, dx, dw, db };
}
