// The page side of test/browser/kernels.browser.test.ts: bundled for the browser, it starts the
// runtime on the page's WebGPU and exposes each kernel as a function of plain arrays (what
// page.evaluate carries), run on the GPU and read back. Node draws the inputs and checks the results.
import {
  attention, attentionBackward, conv2d, conv2dBackwardBias, conv2dBackwardInput, conv2dBackwardWeight, DeviceArray, groupNorm, groupNormBackward,
  initRuntime, matmul, profile, rt, runnableVariants, withTuning, type Activation, type AttentionVariant, type Conv2dOptions, type Conv2dVariant,
  type MatmulVariant, type Tuning,
} from '@sd/kernels';

const f32 = (a: number[]) => DeviceArray.from(Float32Array.from(a), [a.length]);
const on = (a: number[], shape: number[]) => DeviceArray.from(Float32Array.from(a), shape);
/** Reads every array, then frees them all. */
async function readAll<K extends string>(arrays: Record<K, DeviceArray | null>, free: (DeviceArray | null | undefined)[] = []): Promise<Record<K, number[] | null>> {
  const out = {} as Record<K, number[] | null>;
  for (const key of Object.keys(arrays) as K[]) out[key] = arrays[key] ? Array.from(await arrays[key]!.read()) : null;
  for (const a of [...Object.values<DeviceArray | null>(arrays), ...free]) a?.dispose();
  return out;
}
/** withTuning is synchronous in a page: the ops are dispatched inside it and read outside. */
const tuned = <T>(tuning: Tuning, fn: () => T): T => withTuning(tuning, fn);

const api = {
  info() {
    const { info } = rt();
    return { kind: info.kind, vendor: info.vendor, architecture: info.architecture, description: info.description, features: info.features, subgroupSize: info.subgroupSize, variants: runnableVariants(profile()) };
  },

  async matmul(p: { a: number[]; aShape: number[]; b: number[]; bShape: number[]; bias?: number[]; transA?: boolean; transB?: boolean; activation?: Activation; variant: MatmulVariant | 'auto' }) {
    const a = on(p.a, p.aShape);
    const b = on(p.b, p.bShape);
    const bias = p.bias ? f32(p.bias) : undefined;
    const y = tuned(p.variant === 'auto' ? {} : { matmul: { variant: p.variant } }, () => matmul(a, b, { transA: p.transA, transB: p.transB, bias, activation: p.activation }));
    const shape = [...y.shape];
    return { shape, ...(await readAll({ y }, [a, b, bias])) };
  },

  async attention(p: { q: number[]; k: number[]; v: number[]; dout: number[]; mask?: number[]; dims: { B: number; H: number; Sq: number; Sk: number; D: number }; causal?: boolean; scale?: number; variant?: AttentionVariant }) {
    const { B, H, Sq, Sk, D } = p.dims;
    const q = on(p.q, [B, H, Sq, D]);
    const k = on(p.k, [B, H, Sk, D]);
    const v = on(p.v, [B, H, Sk, D]);
    const dout = on(p.dout, [B, H, Sq, D]);
    const mask = p.mask ? on(p.mask, [B, Sk]) : undefined;
    const options = { causal: p.causal, scale: p.scale, keyPaddingMask: mask };
    const { out, lse, grads, variant } = tuned(p.variant ? { attention: { variant: p.variant } } : {}, () => {
      const fwd = attention(q, k, v, options);
      return { ...fwd, grads: attentionBackward(q, k, v, fwd.out, fwd.lse, dout, options), variant: profile().attention.variant };
    });
    return { variant, ...(await readAll({ out, lse, dq: grads.dq, dk: grads.dk, dv: grads.dv }, [q, k, v, dout, mask])) };
  },

  async conv2d(p: { x: number[]; xShape: number[]; w: number[]; wShape: number[]; b: number[] | null; dy: number[]; yShape: number[]; options: Conv2dOptions; variant?: Conv2dVariant }) {
    const x = on(p.x, p.xShape);
    const w = on(p.w, p.wShape);
    const b = p.b ? f32(p.b) : null;
    const dy = on(p.dy, p.yShape);
    const tuning = p.variant ? { conv2d: { variant: p.variant } } : {};
    const variant = tuned(tuning, () => profile().conv2d.variant);
    const r = tuned(tuning, () => ({
      y: conv2d(x, w, b, p.options),
      dx: conv2dBackwardInput(dy, w, p.xShape, p.options),
      dw: conv2dBackwardWeight(dy, x, p.wShape, p.options),
      db: conv2dBackwardBias(dy),
    }));
    const shapes = { y: [...r.y.shape], dx: [...r.dx.shape], dw: [...r.dw.shape] };
    return { variant, shapes, ...(await readAll(r, [x, w, b, dy])) };
  },

  async groupNorm(p: { x: number[]; shape: number[]; w: number[] | null; b: number[] | null; dy: number[]; groups: number; silu: boolean }) {
    const x = on(p.x, p.shape);
    const w = p.w ? f32(p.w) : null;
    const b = p.b ? f32(p.b) : null;
    const dy = on(p.dy, p.shape);
    const out = groupNorm(x, p.groups, w, b, 1e-5, { silu: p.silu });
    const grads = groupNormBackward(dy, x, w, b, out.mean, out.rstd, p.groups, { silu: p.silu });
    return readAll({ y: out.y, mean: out.mean, rstd: out.rstd, dx: grads.dx, dweight: grads.dweight, dbias: grads.dbias }, [x, w, b, dy]);
  },
};

export type KernelsPage = typeof api;

// The test waits for `sdReady` and calls `sdKernels`: a rejected sdReady carries the reason (no
// WebGPU, no adapter) to the test.
const page = globalThis as unknown as { sdKernels: KernelsPage; sdReady: Promise<ReturnType<KernelsPage['info']>> };
page.sdKernels = api;
page.sdReady = initRuntime().then(() => api.info());
