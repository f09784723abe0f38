// Float64 reference of average pooling with kernel = stride (floor mode), [N, C, H, W] → [N, C, H/k, W/k].
export function refAvgPool(x: ArrayLike<number>, [n, c, h, w]: number[], k: number): Float64Array {
  const oh = Math.floor(h / k);
  const ow = Math.floor(w / k);
  const out = new Float64Array(n * c * oh * ow);
  for (let p = 0; p < n * c; p++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let s = 0;
        for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) s += x[p * h * w + (i * k + a) * w + j * k + b];
        out[(p * oh + i) * ow + j] = s / (k * k);
      }
    }
  }
  return out;
}
