// Float64 CPU references for conv2d (forward and both gradients), written as the plain sums.

export interface RefConvOptions {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

export interface RefConvDims {
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  kh: number;
  kw: number;
  oh: number;
  ow: number;
}

export function refConvDims(x: readonly number[], w: readonly number[], opt: RefConvOptions): RefConvDims {
  const [n, c, h, wd] = x;
  const [o, , kh, kw] = w;
  const oh = Math.floor((h + 2 * opt.padding[0] - opt.dilation[0] * (kh - 1) - 1) / opt.stride[0]) + 1;
  const ow = Math.floor((wd + 2 * opt.padding[1] - opt.dilation[1] * (kw - 1) - 1) / opt.stride[1]) + 1;
  return { n, c, h, w: wd, o, kh, kw, oh, ow };
}

/** Calls f(n, o, oy, ox, ci, kh, kw, iy, ix) for every in-range term of the convolution sum. */
function forEachTerm(d: RefConvDims, opt: RefConvOptions, f: (n: number, o: number, oy: number, ox: number, ci: number, cw: number, ky: number, kx: number, iy: number, ix: number) => void): void {
  const cg = d.c / opt.groups;
  const og = d.o / opt.groups;
  for (let n = 0; n < d.n; n++)
    for (let o = 0; o < d.o; o++) {
      const g = Math.floor(o / og);
      for (let oy = 0; oy < d.oh; oy++)
        for (let ox = 0; ox < d.ow; ox++)
          for (let cw = 0; cw < cg; cw++)
            for (let ky = 0; ky < d.kh; ky++) {
              const iy = oy * opt.stride[0] - opt.padding[0] + ky * opt.dilation[0];
              if (iy < 0 || iy >= d.h) continue;
              for (let kx = 0; kx < d.kw; kx++) {
                const ix = ox * opt.stride[1] - opt.padding[1] + kx * opt.dilation[1];
                if (ix < 0 || ix >= d.w) continue;
                f(n, o, oy, ox, g * cg + cw, cw, ky, kx, iy, ix);
              }
            }
    }
}

export function refConv2d(x: ArrayLike<number>, xs: number[], w: ArrayLike<number>, ws: number[], bias: ArrayLike<number> | null, opt: RefConvOptions): Float64Array {
  const d = refConvDims(xs, ws, opt);
  const cg = d.c / opt.groups;
  const y = new Float64Array(d.n * d.o * d.oh * d.ow);
  if (bias) for (let i = 0; i < y.length; i++) y[i] = bias[Math.floor(i / (d.oh * d.ow)) % d.o];
  forEachTerm(d, opt, (n, o, oy, ox, ci, cw, ky, kx, iy, ix) => {
    y[((n * d.o + o) * d.oh + oy) * d.ow + ox] += w[((o * cg + cw) * d.kh + ky) * d.kw + kx] * x[((n * d.c + ci) * d.h + iy) * d.w + ix];
  });
  return y;
}

export function refConv2dBackward(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  xs: number[],
  w: ArrayLike<number>,
  ws: number[],
  opt: RefConvOptions,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const d = refConvDims(xs, ws, opt);
  const cg = d.c / opt.groups;
  const dx = new Float64Array(d.n * d.c * d.h * d.w);
  const dw = new Float64Array(w.length);
  const db = new Float64Array(d.o);
  for (let i = 0; i < dy.length; i++) db[Math.floor(i / (d.oh * d.ow)) % d.o] += dy[i];
  forEachTerm(d, opt, (n, o, oy, ox, ci, cw, ky, kx, iy, ix) => {
    const g = dy[((n * d.o + o) * d.oh + oy) * d.ow + ox];
    const wi = ((o * cg + cw) * d.kh + ky) * d.kw + kx;
    const xi = ((n * d.c + ci) * d.h + iy) * d.w + ix;
    dx[xi] += g * w[wi];
    dw[wi] += g * x[xi];
  });
  return { dx, dw, db };
}
