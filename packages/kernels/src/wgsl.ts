// Small helpers for generating WGSL and packing the uniform parameters kernels read.
import type { DType } from './array.ts';

/** WGSL scalar type of a dtype. */
export function wgslType(dtype: DType): string {
  return dtype;
}

/** Workgroup size used by simple one-element-per-invocation kernels. */
export const WG = 256;

/**
 * Workgroup counts for `n` invocations of workgroup size `wg`, folded into two dimensions when one
 * would exceed the 65,535 limit. Pair with `linearIndex(wg)` in the shader.
 */
export function grid(n: number, wg = WG): [number, number] {
  const groups = Math.ceil(n / wg);
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}

/** WGSL expression for the linear invocation index under `grid()` (needs `@builtin(num_workgroups) nwg`). */
export function linearIndex(wg = WG): string {
  return `(gid.x + gid.y * nwg.x * ${wg}u)`;
}

/** The standard entry-point signature for grid-dispatched kernels. */
export function gridMain(wg = WG): string {
  return `@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>)`;
}

/** Builds a uniform block of u32/i32/f32 scalars: the WGSL struct and the packed bytes, in one place. */
export class Params {
  private fields: Array<{ name: string; type: 'u32' | 'i32' | 'f32'; value: number }> = [];

  u32(name: string, value: number): this {
    this.fields.push({ name, type: 'u32', value });
    return this;
  }
  i32(name: string, value: number): this {
    this.fields.push({ name, type: 'i32', value });
    return this;
  }
  f32(name: string, value: number): this {
    this.fields.push({ name, type: 'f32', value });
    return this;
  }

  /** `struct Params {...}` plus `@group(0) @binding(b) var<uniform> p: Params;`. */
  decl(binding: number): string {
    const body = this.fields.map((f) => `  ${f.name}: ${f.type},`).join('\n');
    return `struct Params {\n${body}\n}\n@group(0) @binding(${binding}) var<uniform> p: Params;\n`;
  }

  pack(): ArrayBuffer {
    const buf = new ArrayBuffer(Math.max(16, Math.ceil((this.fields.length * 4) / 16) * 16));
    const view = new DataView(buf);
    this.fields.forEach((f, i) => {
      if (f.type === 'u32') view.setUint32(i * 4, f.value >>> 0, true);
      else if (f.type === 'i32') view.setInt32(i * 4, f.value | 0, true);
      else view.setFloat32(i * 4, f.value, true);
    });
    return buf;
  }
}

/** Declarations of storage bindings in the runtime's order: inputs (read) then outputs (read_write). */
export function bindings(inputs: Array<[string, string]>, outputs: Array<[string, string]>): string {
  const lines: string[] = [];
  inputs.forEach(([name, type], i) => lines.push(`@group(0) @binding(${i}) var<storage, read> ${name}: array<${type}>;`));
  outputs.forEach(([name, type], i) =>
    lines.push(`@group(0) @binding(${inputs.length + i}) var<storage, read_write> ${name}: array<${type}>;`),
  );
  return lines.join('\n') + '\n';
}

/**
 * WGSL statements that turn a linear output index `idx` into per-operand offsets, for operands
 * whose strides over the (collapsed) output shape are given. Shapes/strides are baked in as
 * constants: the shapes of a model are few, and constant index math is much cheaper on lavapipe.
 */
export function stridedOffsets(shape: number[], strides: number[][], names: string[]): string {
  const lines = names.map((n) => `var ${n}: u32 = 0u;`);
  lines.push('var rem: u32 = idx;');
  for (let d = shape.length - 1; d >= 0; d--) {
    const coord = d === 0 ? 'rem' : `rem % ${shape[d]}u`;
    lines.push(`{ let c = ${coord};`);
    names.forEach((n, k) => {
      if (strides[k][d] !== 0) lines.push(`  ${n} += c * ${strides[k][d]}u;`);
    });
    lines.push(d === 0 ? '}' : `  rem = rem / ${shape[d]}u; }`);
  }
  return lines.join('\n');
}
