// The one generic data-movement kernel: walk an iteration shape, map each coordinate to a source and
// a destination offset through baked strides, optionally write a fill value outside a per-dimension
// window (padding). permute, slice, expand, pad, concat pieces, upsampling and cast are all plans for it.
import type { DeviceArray } from '../array.ts';
import { rt } from '../runtime/current.ts';
import { kernelSource } from '../runtime/kernel-source.ts';
import { sizeOf } from '../shape.ts';
import { bindings, grid, gridMain, linearIndex, Params } from '../wgsl.ts';

/** One side (source or destination) of a copy: element strides over the iteration shape plus a base offset. */
export interface CopySide {
  strides: number[];
  offset: number;
}

/**
 * A strided copy. For every coordinate `c` of `shape`:
 *   dst[dst.offset + Σ c[d]·dst.strides[d]] = inWindow(c) ? src[src.offset + Σ (c[d] − lo[d])·src.strides[d]] : fill
 * where `window[d] = [lo, hi)` (absent or null: the whole dimension, lo = 0). Strides and offsets are
 * non-negative; source strides may be 0 (broadcast).
 * Element values are converted to the destination dtype with WGSL's conversion rules.
 */
export interface CopyPlan {
  shape: number[];
  src: CopySide;
  dst: CopySide;
  window?: Array<[number, number] | null>;
  fill?: number;
}

/** Elements per invocation, tried in order (the first that divides the innermost dimension wins). */
const VECTOR_SIZES = [4, 2];

interface Dim {
  size: number;
  src: number;
  dst: number;
  window: [number, number] | null;
}

/** Merges adjacent dimensions both sides traverse contiguously; drops size-1 dimensions without a window. */
function collapse(plan: CopyPlan): Dim[] {
  const dims: Dim[] = [];
  plan.shape.forEach((size, d) => {
    const window = plan.window?.[d] ?? null;
    if (size === 1 && !window) return;
    const last = dims[dims.length - 1];
    const src = plan.src.strides[d];
    const dst = plan.dst.strides[d];
    if (last && !window && !last.window && last.src === src * size && last.dst === dst * size) {
      last.size *= size;
      last.src = src;
      last.dst = dst;
    } else dims.push({ size, src, dst, window });
  });
  return dims;
}

/** The fill value's bits in the destination dtype (a uniform, so ±Infinity and NaN work too). */
function fillBits(value: number, dtype: string): number {
  if (dtype === 'f32') return new Uint32Array(new Float32Array([value]).buffer)[0];
  return Math.trunc(value) >>> 0;
}

/** Encodes the copy `plan` from `src` into `dst` (an existing, different array); `name` labels the kernel. */
export function stridedCopy(name: string, src: DeviceArray, dst: DeviceArray, plan: CopyPlan): void {
  const n = sizeOf(plan.shape);
  if (n === 0) return;
  const dims = collapse(plan);
  const windowed = dims.some((d) => d.window);

  // A single contiguous run of the same dtype is a buffer-to-buffer copy (no shader at all).
  if (src.dtype === dst.dtype && !windowed && dims.length <= 1 && (dims[0]?.src ?? 1) === 1 && (dims[0]?.dst ?? 1) === 1) {
    rt().copy(src.buffer, plan.src.offset * 4, dst.buffer, plan.dst.offset * 4, n * 4);
    return;
  }

  // Each invocation copies `per` consecutive elements of the innermost dimension (unrolled): fewer
  // invocations share the index arithmetic, which is most of a copy's cost on lavapipe.
  const innermost = dims[dims.length - 1];
  const per = VECTOR_SIZES.find((v) => innermost && !innermost.window && innermost.size % v === 0) ?? 1;
  const iter = dims.map((d, k) => (k === dims.length - 1 ? { ...d, size: d.size / per, src: d.src * per, dst: d.dst * per } : d));
  const invocations = n / per;

  const params = windowed ? new Params().u32('fill', fillBits(plan.fill ?? 0, dst.dtype)) : undefined;
  const dimsKey = iter.map((d) => `${d.size}:${d.src}:${d.dst}:${d.window ?? ''}`).join(';');
  const key = `copy:${src.dtype}>${dst.dtype}:${plan.src.offset}>${plan.dst.offset}:${per}:${dimsKey}`;
  const code = kernelSource(key, () => {
    const lines = [`var s: u32 = ${plan.src.offset}u;`, `var d: u32 = ${plan.dst.offset}u;`, 'var rem: u32 = idx;'];
    if (windowed) lines.push('var inside = true;');
    for (let k = iter.length - 1; k >= 0; k--) {
      const { size, src: ss, dst: ds, window } = iter[k];
      lines.push(`{ let c = ${k === 0 ? 'rem' : `rem % ${size}u`};`);
      if (k > 0) lines.push(`  rem = rem / ${size}u;`);
      if (ds !== 0) lines.push(`  d += c * ${ds}u;`);
      if (window) {
        const [lo, hi] = window;
        lines.push(`  inside = inside && c >= ${lo}u && c < ${hi}u;`);
        // c − lo wraps around when outside the window; that offset is never read.
        if (ss !== 0) lines.push(`  s += (c - ${lo}u) * ${ss}u;`);
      } else if (ss !== 0) lines.push(`  s += c * ${ss}u;`);
      lines.push('}');
    }
    const stores: string[] = [];
    for (let j = 0; j < per; j++) {
      const at = (base: string, stride: number) => (j === 0 || stride === 0 ? base : `${base} + ${j * stride}u`);
      const value = `${dst.dtype}(src[${at('s', innermost?.src ?? 0)}])`;
      const target = `dst[${at('d', innermost?.dst ?? 0)}]`;
      stores.push(windowed ? `if (inside) { ${target} = ${value}; } else { ${target} = bitcast<${dst.dtype}>(p.fill); }` : `${target} = ${value};`);
    }
    return `${bindings([['src', src.dtype]], [['dst', dst.dtype]])}${params?.decl(2) ?? ''}
${gridMain()} {
  let idx = ${linearIndex()};
  if (idx >= ${invocations}u) { return; }
  ${lines.join('\n  ')}
  ${stores.join('\n  ')}
}`;
  });
  rt().dispatch({ name, code, inputs: [src.buffer], outputs: [dst.buffer], params: params?.pack(), workgroups: grid(invocations) });
}
