// 2-D convolution (NCHW, f32) and its gradients. The forward pass and the input gradient (a
// transposed convolution; a flipped-kernel forward one at stride 1) run the direct register-tile
// kernel of conv2d-direct.ts or the tiled implicit GEMM of conv2d-gemm.ts; the weight gradient is a
// split reduction (conv2d-weight-grad.ts); the bias gradient is a sum of dy over N, H and W.
//
// The kernel variant is the adapter profile's `conv2d.variant` (see Conv2dVariant in
// runtime/profile.ts): 'texture' on lavapipe, 'tiled' on NVIDIA, 'portable' elsewhere; the
// 'subgroup' variant is 'texture' with storage-buffer sources.
import { DeviceArray } from '../array.ts';
import { rt } from '../runtime/current.ts';
import { cachedKernel } from '../runtime/kernel-source.ts';
import { profile, type Conv2dVariant } from '../runtime/profile.ts';
import { fmt, type Shape } from '../shape.ts';
import { sum } from './reduce.ts';
import {
  directKernel,
  forwardProblem,
  textureFits,
  unrollsKernelRows,
  weightSegment,
  weightTextureFits,
  type DirectProblem,
  type DirectTile,
  type DirectVariant,
} from './conv2d-direct.ts';
import { convGeometry, expectShape, outputShape, type Conv2dOptions } from './conv2d-geometry.ts';
import { gemmConv } from './conv2d-gemm.ts';
import { packWeights, packWeightsTexture, sourceTexture, type WeightLayout } from './conv2d-pack.ts';
import { conv2dWeightGrad } from './conv2d-weight-grad.ts';

export type { Conv2dOptions } from './conv2d-geometry.ts';
export { releaseConv2dScratch } from './conv2d-pack.ts';
export { GEMM_LARGE, GEMM_SMALL, type GemmConfig } from './gemm/tile.ts';
export type { Conv2dVariant } from '../runtime/profile.ts';

function checkF32(op: string, named: Record<string, DeviceArray | undefined>): void {
  for (const [name, a] of Object.entries(named)) {
    if (a && a.dtype !== 'f32') throw new Error(`${op}: ${name} must be f32, got ${a.dtype} ${fmt(a.shape)}`);
  }
}

/**
 * 2-D convolution: y [N, O, OH, OW] = x [N, C, H, W] ⋆ w [O, C/groups, KH, KW] + bias [O].
 * OH = ⌊(H + 2·padH − dilH·(KH − 1) − 1) / strideH⌋ + 1, likewise OW.
 */
export function conv2d(x: DeviceArray, w: DeviceArray, bias?: DeviceArray | null, opts: Conv2dOptions = {}): DeviceArray {
  const op = 'conv2d';
  const g = convGeometry(op, x.shape, w.shape, opts);
  checkF32(op, { input: x, weight: w, bias: bias ?? undefined });
  if (bias) expectShape(op, `bias for weight ${fmt(w.shape)}`, bias.shape, [g.o]);
  if (g.cg === 0) throw new Error(`${op}: weight ${fmt(w.shape)} has no input channels`);
  const y = DeviceArray.empty(outputShape(g), 'f32', op);
  if (y.size === 0) return y;
  const problem = forwardProblem(g);
  runDirect(problem, x, w, 'forward', bias ?? null, y);
  return y;
}

/**
 * Gradient of conv2d with respect to its input: dx [N, C, H, W] (= `inputShape`) from
 * dy [N, O, OH, OW] and w. A transposed convolution, computed implicitly.
 */
export function conv2dBackwardInput(dy: DeviceArray, w: DeviceArray, inputShape: Shape, opts: Conv2dOptions = {}): DeviceArray {
  const op = 'conv2dBackwardInput';
  const g = convGeometry(op, inputShape, w.shape, opts);
  checkF32(op, { dy, weight: w });
  expectShape(op, `dy for input ${fmt(inputShape)} and weight ${fmt(w.shape)}`, dy.shape, outputShape(g));
  const dx = DeviceArray.empty(inputShape, 'f32', op);
  if (dx.size === 0) return dx;
  if (g.og === 0 || dy.size === 0) {
    rt().fillWords(dx.buffer, dx.size, 0);
    return dx;
  }
  // Stride 1: the gradient is a forward convolution of dy with the flipped kernel and padding
  // dil·(K − 1) − pad, which gets the fastest forward kernels.
  const fh = g.dh * (g.kh - 1) - g.ph;
  const fw = g.dw * (g.kw - 1) - g.pw;
  const asForward = g.sh === 1 && g.sw === 1 && fh >= 0 && fw >= 0;
  const problem: DirectProblem = {
    transposed: !asForward,
    n: g.n,
    groups: g.groups,
    cog: g.cg,
    r: g.h,
    s: g.w,
    cr: g.og,
    hx: g.oh,
    wx: g.ow,
    kh: g.kh,
    kw: g.kw,
    sh: g.sh,
    sw: g.sw,
    ph: asForward ? fh : g.ph,
    pw: asForward ? fw : g.pw,
    dh: g.dh,
    dw: g.dw,
  };
  runDirect(problem, dy, w, asForward ? 'flipped' : 'transposed', null, dx);
  return dx;
}

/**
 * Gradient of conv2d with respect to its weight: dw (= `weightShape` [O, C/groups, KH, KW]) from
 * dy [N, O, OH, OW] and the forward input x [N, C, H, W]. A reduction over N·OH·OW per weight,
 * split across workgroups and summed.
 */
export function conv2dBackwardWeight(dy: DeviceArray, x: DeviceArray, weightShape: Shape, opts: Conv2dOptions = {}): DeviceArray {
  const op = 'conv2dBackwardWeight';
  const g = convGeometry(op, x.shape, weightShape, opts);
  checkF32(op, { dy, input: x });
  expectShape(op, `dy for input ${fmt(x.shape)} and weight ${fmt(weightShape)}`, dy.shape, outputShape(g));
  return conv2dWeightGrad(dy, x, g);
}

/** Gradient of conv2d with respect to its bias: db [O] = Σ dy over N, OH, OW. */
export function conv2dBackwardBias(dy: DeviceArray): DeviceArray {
  if (dy.rank !== 4) throw new Error(`conv2dBackwardBias: dy must be [N, O, OH, OW], got ${fmt(dy.shape)}`);
  checkF32('conv2dBackwardBias', { dy });
  return sum(dy, [0, 2, 3]);
}

/** Picks the tile and load strategy for a direct-conv problem under the active variant. */
export function planDirect(p: DirectProblem, variant: Conv2dVariant, sgSize: number): DirectVariant {
  const tuned = profile().conv2d;
  const sg = variant !== 'portable' && sgSize > 0;
  // Pixels per invocation: a multiple of the stride for the transposed kernel (so tap offsets are
  // constant), and 4 columns of a texel for the texture source.
  const px = p.transposed ? p.sw * Math.ceil(4 / p.sw) : 4;
  let ot: number;
  if (sg) ot = p.cog <= 4 ? 4 : 8;
  else ot = Math.min(8, p.cog);
  // Small kernels (1×1) take several channels per iteration so one subgroup load of weights
  // (4 per lane) is not mostly wasted; larger ones one channel (more unrolling measured no faster).
  let cu = 1;
  if (sg && unrollsKernelRows(p)) {
    const perChannel = p.kh * p.kw * ot;
    while (cu < 4 && cu < p.cr && (cu + 1) * perChannel <= 4 * sgSize) cu++;
  }
  const tile: DirectTile = { ot, px, wg: 64, cu, ...tuned.tile };
  const texture = variant === 'texture' && sg && textureFits(p, tile);
  const weightTexture = variant === 'texture' && sg && weightTextureFits(p, tile);
  return {
    source: texture ? 'texture' : 'buffer',
    weights: sg ? 'subgroup' : 'uniform',
    weightSource: sg ? (tuned.weightSource ?? (weightTexture ? 'texture' : 'buffer')) : 'buffer',
    tile,
    subgroup: sg ? sgSize : 0,
    vecStore: texture && p.s % 4 === 0,
  };
}

function runDirect(p: DirectProblem, src: DeviceArray, w: DeviceArray, layout: WeightLayout, bias: DeviceArray | null, out: DeviceArray): void {
  const { variant } = profile().conv2d;
  if (variant === 'tiled') {
    // The GEMM reads weights as [groups][cog][cr·kh·kw]: the forward weight already is that.
    const packed = layout === 'forward' ? w : packWeights(w, p, { ot: 1, px: 1, wg: 1, cu: 1 }, layout);
    gemmConv(p, src, packed, bias, out);
    if (packed !== w) packed.dispose();
    return;
  }
  const plan = planDirect(p, variant, profile().subgroup.fixed);
  const kernel = cachedKernel(`conv2d:${Object.values(p)}|${Object.values(plan.tile)}|${unrollsKernelRows(p)}|${plan.source},${plan.weights},${plan.weightSource},${plan.subgroup},${plan.vecStore}|${bias !== null}`, () =>
    directKernel(p, plan, bias !== null),
  );
  const inputs: GPUBuffer[] = [];
  const resources: GPUTextureView[] = [];
  if (plan.source === 'texture') resources.push(sourceTexture(src, p, plan.tile));
  else inputs.push(src.buffer);
  let packed: DeviceArray | null = null;
  if (plan.weightSource === 'texture') resources.push(packWeightsTexture(w, p, plan.tile, layout, weightSegment(p, plan.tile)));
  else inputs.push((packed = packWeights(w, p, plan.tile, layout)).buffer);
  if (bias) inputs.push(bias.buffer);
  rt().dispatch({ name: 'conv2d', code: kernel.code, inputs, outputs: [out.buffer], resources, workgroups: kernel.workgroups });
  packed?.dispose();
}
