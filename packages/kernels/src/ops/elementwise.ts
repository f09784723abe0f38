// The generic elementwise map: any WGSL expression over broadcast operands (arrays or scalars).
// Unary, binary, comparison, `where` and the fused backward rules of activations are all this kernel.
import { DeviceArray, type DType } from '../array.ts';
import { rt } from '../runtime/current.ts';
import { kernelSource } from '../runtime/kernel-source.ts';
import { broadcastShapes, broadcastStrides, collapseDims, contiguousStrides, sizeOf } from '../shape.ts';
import { bindings, grid, gridMain, linearIndex, Params, stridedOffsets } from '../wgsl.ts';

export type Operand = DeviceArray | number;

/**
 * out[i] = expr(v0, v1, …) where vK is operand K (broadcast, converted to f32) at i.
 * `expr` is a WGSL f32 expression; helpers in `prelude` may be referenced by it.
 */
export function mapElementwise(
  name: string,
  expr: string,
  operands: Operand[],
  options: { outDtype?: DType; prelude?: string } = {},
): DeviceArray {
  const arrays = operands.filter((o): o is DeviceArray => typeof o !== 'number');
  const outShape = broadcastShapes(name, ...arrays.map((a) => a.shape));
  const outDtype = options.outDtype ?? 'f32';
  const out = DeviceArray.empty(outShape, outDtype, name);
  const n = sizeOf(outShape);
  if (n === 0) return out;

  const strides = arrays.map((a) => broadcastStrides(a.shape, outShape));
  const collapsed = collapseDims(outShape, [contiguousStrides(outShape), ...strides]);
  const inputStrides = collapsed.strides.slice(1);
  const params = new Params().u32('n', n);
  operands.forEach((o, k) => {
    if (typeof o === 'number') params.f32(`s${k}`, o);
  });
  const operandKinds = operands.map((o) => (typeof o === 'number' ? 's' : o.dtype)).join(',');
  const key = `map:${name}:${expr}:${operandKinds}>${outDtype}:${collapsed.shape}:${inputStrides.join(';')}:${options.prelude ?? ''}`;
  const code = kernelSource(key, () => {
    const reads: string[] = [];
    let arrayIndex = 0;
    operands.forEach((o, k) => {
      if (typeof o === 'number') reads.push(`let v${k} = p.s${k};`);
      else {
        const j = arrayIndex++;
        reads.push(`let v${k} = f32(a${j}[o${j}]);`);
      }
    });
    return `${bindings(
      arrays.map((a, j) => [`a${j}`, a.dtype]),
      [['out', outDtype]],
    )}${params.decl(arrays.length + 1)}
${options.prelude ?? ''}
${gridMain()} {
  let idx = ${linearIndex()};
  if (idx >= p.n) { return; }
${stridedOffsets(collapsed.shape, inputStrides, arrays.map((_, j) => `o${j}`))}
  ${reads.join('\n  ')}
  out[idx] = ${outDtype}(${expr});
}`;
  });
  rt().dispatch({ name, code, inputs: arrays.map((a) => a.buffer), outputs: [out.buffer], params: params.pack(), workgroups: grid(n) });
  return out;
}
