// Shape bookkeeping for 2-D convolution: option normalisation, output sizes and input validation,
// shared by the forward and both backward kernels so every entry point checks the same things.
import { fmt, type Shape } from '../shape.ts';

export interface Conv2dOptions {
  /** Step between output pixels, per axis [h, w] or both. Default 1. */
  stride?: number | readonly [number, number];
  /** Zero padding added on both sides, per axis [h, w] or both. Default 0. */
  padding?: number | readonly [number, number];
  /** Spacing between kernel taps, per axis [h, w] or both. Default 1. */
  dilation?: number | readonly [number, number];
  /** Channel groups: input and output channels are split into `groups` independent convolutions. Default 1. */
  groups?: number;
}

/** Every size a conv2d kernel needs, fully resolved. */
export interface ConvGeometry {
  n: number;
  /** Input channels (all groups). */
  c: number;
  h: number;
  w: number;
  /** Output channels (all groups). */
  o: number;
  kh: number;
  kw: number;
  oh: number;
  ow: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  groups: number;
  /** Input channels per group (= weight.shape[1]). */
  cg: number;
  /** Output channels per group. */
  og: number;
}

function pair(op: string, name: string, v: number | readonly [number, number] | undefined, dflt: number, min: number): [number, number] {
  const p: [number, number] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (p.length !== 2 || !p.every((x) => Number.isInteger(x) && x >= min)) {
    throw new Error(`${op}: ${name} must be an integer ≥ ${min} or a pair of them, got ${JSON.stringify(v)}`);
  }
  return p;
}

/**
 * Resolves the geometry of conv2d(x [N,C,H,W], w [O,C/groups,KH,KW]) and validates it.
 * `op` names the entry point in errors.
 */
export function convGeometry(op: string, xShape: Shape, wShape: Shape, opts: Conv2dOptions = {}): ConvGeometry {
  if (xShape.length !== 4) throw new Error(`${op}: input must be [N, C, H, W], got ${fmt(xShape)}`);
  if (wShape.length !== 4) throw new Error(`${op}: weight must be [O, C/groups, KH, KW], got ${fmt(wShape)}`);
  const [sh, sw] = pair(op, 'stride', opts.stride, 1, 1);
  const [ph, pw] = pair(op, 'padding', opts.padding, 0, 0);
  const [dh, dw] = pair(op, 'dilation', opts.dilation, 1, 1);
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`${op}: groups must be a positive integer, got ${groups}`);
  const [n, c, h, w] = xShape;
  const [o, cg, kh, kw] = wShape;
  if (kh < 1 || kw < 1) throw new Error(`${op}: weight ${fmt(wShape)} has an empty kernel`);
  if (c % groups !== 0) throw new Error(`${op}: input ${fmt(xShape)} has ${c} channels, not divisible by groups = ${groups}`);
  if (o % groups !== 0) throw new Error(`${op}: weight ${fmt(wShape)} has ${o} output channels, not divisible by groups = ${groups}`);
  if (cg * groups !== c) {
    throw new Error(`${op}: input ${fmt(xShape)} has ${c} channels but weight ${fmt(wShape)} expects ${cg * groups} (${cg} per group × ${groups} groups)`);
  }
  const oh = Math.floor((h + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
  const ow = Math.floor((w + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  if (oh < 1 || ow < 1) {
    throw new Error(
      `${op}: input ${fmt(xShape)} padded by [${ph}, ${pw}] is smaller than the dilated kernel of weight ${fmt(wShape)} (dilation [${dh}, ${dw}])`,
    );
  }
  return { n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups, cg, og: o / groups };
}

export function outputShape(g: ConvGeometry): [number, number, number, number] {
  return [g.n, g.o, g.oh, g.ow];
}

export function expectShape(op: string, what: string, actual: Shape, expected: Shape): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    throw new Error(`${op}: ${what} has shape ${fmt(actual)}, expected ${fmt(expected)}`);
  }
}
