// WGSL building blocks shared by the reduction-style kernels (reduce, softmax, norms, cross-entropy):
// a workgroup split into TX independent groups of TY lanes, and a combine of one value across the
// TY lanes of each group (shared-memory tree, or subgroup shuffles plus one barrier when available).
import { profile } from '../runtime/profile.ts';

/** A workgroup of TX groups × TY lanes (both powers of two); lanes of a group reduce together. */
export interface Lanes {
  TX: number;
  TY: number;
  /** Lane index varies fastest in local_invocation_index (row-like reads); else the group index does (column-like reads). */
  tyFast: boolean;
  /** Subgroup size used for shuffles, or 0 for the portable shared-memory tree. */
  subgroup: number;
}

/** Threads per workgroup (the profile's `reduce.threads`). */
export function maxThreads(): number {
  return profile().reduce.threads;
}

/**
 * Lanes that share one contiguous reduction of length `n`: the profile's `reduce.rowLanes` (one
 * subgroup per row on lavapipe), else a warp per row unless the row is long enough to feed a whole
 * workgroup.
 */
export function rowLanes(n: number): number {
  const W = maxThreads();
  const cap = profile().reduce.rowLanes ?? (n >= 4096 ? W : Math.min(W, 32));
  return Math.min(W, cap, pow2ceil(n));
}

export function pow2ceil(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * Subgroup shuffles need a known, fixed subgroup size (the profile's `reduce.subgroup`, 0 when
 * there is none), subgroups made of consecutive invocations (true of Vulkan drivers for 1-D
 * workgroups), and groups that tile subgroups or fit inside one (both powers of two): then a
 * butterfly over the group's lanes never leaves the group. Besides being fast, this avoids
 * barriers, which are also slow to compile on lavapipe.
 */
export function makeLanes(TX: number, TY: number, tyFast: boolean): Lanes {
  const sg = profile().reduce.subgroup;
  const usable = sg > 0 && tyFast && TY > 1;
  return { TX, TY, tyFast, subgroup: usable ? sg : 0 };
}

/** Directive the shader must start with when the lanes use subgroup operations. */
export function enableFor(lanes: Lanes): string {
  return lanes.subgroup ? 'enable subgroups;\n' : '';
}

/** Defines `tx` (group) and `ty` (lane) from `lid` (local_invocation_index). */
export function laneSetup(l: Lanes): string {
  return l.tyFast
    ? `let tx = lid / ${l.TY}u;\n  let ty = lid % ${l.TY}u;`
    : `let tx = lid % ${l.TX}u;\n  let ty = lid / ${l.TX}u;`;
}

/** A reduction state: its WGSL type, its fields when it is a struct, and a `fn combine(a, b)` name. */
export interface State {
  type: string;
  fields?: string[];
  combine: string;
}

/**
 * Combines variable `v` across the TY lanes of each group; afterwards every lane holds the group's
 * total. Must be emitted in uniform control flow (top level of `main`). `tag` keeps the shared
 * array of each call distinct, so several reductions in one kernel need no extra barrier.
 */
export function groupReduce(l: Lanes, v: string, s: State, tag: string): { decl: string; code: string } {
  if (l.TY === 1) return { decl: '', code: '' };
  const sh = `sh_${tag}`;
  if (l.subgroup) {
    const sg = Math.min(l.subgroup, l.TY); // lanes that shuffle together
    const perGroup = l.TY / sg;
    const shuffle = (o: number) =>
      s.fields
        ? `${s.type}(${s.fields.map((f) => `subgroupShuffleXor(${v}.${f}, ${o}u)`).join(', ')})`
        : `subgroupShuffleXor(${v}, ${o}u)`;
    const lines: string[] = [];
    for (let o = sg / 2; o >= 1; o /= 2) lines.push(`${v} = ${s.combine}(${v}, ${shuffle(o)});`);
    if (perGroup > 1) {
      lines.push(`if (lid % ${sg}u == 0u) { ${sh}[lid / ${sg}u] = ${v}; }`, 'workgroupBarrier();');
      lines.push(`{ let first = tx * ${perGroup}u;`, `  ${v} = ${sh}[first];`);
      for (let j = 1; j < perGroup; j++) lines.push(`  ${v} = ${s.combine}(${v}, ${sh}[first + ${j}u]);`);
      lines.push('}');
    }
    const decl = perGroup > 1 ? `var<workgroup> ${sh}: array<${s.type}, ${(l.TX * l.TY) / sg}>;\n` : '';
    return { decl, code: lines.join('\n  ') };
  }
  const stride = l.tyFast ? 1 : l.TX;
  const lines = [`${sh}[lid] = ${v};`, 'workgroupBarrier();'];
  for (let half = l.TY / 2; half >= 1; half /= 2) {
    lines.push(`if (ty < ${half}u) { ${sh}[lid] = ${s.combine}(${sh}[lid], ${sh}[lid + ${half * stride}u]); }`);
    lines.push('workgroupBarrier();');
  }
  lines.push(`${v} = ${sh}[lid - ty * ${stride}u];`);
  return { decl: `var<workgroup> ${sh}: array<${s.type}, ${l.TX * l.TY}>;\n`, code: lines.join('\n  ') };
}

/** Workgroup counts for `count` workgroups, folded into 2-D past the 65,535 limit; pair with `workgroupIndex`. */
export function foldGroups(count: number): [number, number] {
  if (count <= 65535) return [count, 1];
  const y = Math.ceil(count / 65535);
  return [Math.ceil(count / y), y];
}

/** WGSL: `wid`, the linear workgroup index under `foldGroups`, returning (uniformly) past `count`. */
export function workgroupIndex(count: number): string {
  return `let wid = wg.x + wg.y * nwg.x;\n  if (wid >= ${count}u) { return; }`;
}

/** Entry point with the builtins these kernels use. */
export function entry(l: Lanes): string {
  return `@compute @workgroup_size(${l.TX * l.TY})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>)`;
}

/**
 * How many workgroups share one long reduction (two-pass when > 1): past 64k elements per output a
 * single workgroup would serialise, and a device with many cores wants enough workgroups in flight.
 */
export function chooseSplits(reduced: number, tiles: number): number {
  const MAX_SERIAL = 65536;
  const MIN_CHUNK = 4096;
  let splits = Math.ceil(reduced / MAX_SERIAL);
  const target = profile().reduce.splitTarget;
  if (tiles * splits < target && reduced >= 2 * MIN_CHUNK) {
    splits = Math.max(splits, Math.min(Math.ceil(target / tiles), Math.floor(reduced / MIN_CHUNK)));
  }
  return Math.max(1, splits);
}

/** WGSL helpers: NaN test on the bits (immune to fast-math folding) and ±infinity built at run time. */
export const FLOAT_HELPERS = `
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn is_nan4(x: vec4<f32>) -> vec4<bool> { return (bitcast<vec4<u32>>(x) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u); }
fn neg_inf() -> f32 { var bits = 0xff800000u; return bitcast<f32>(bits); }
fn pos_inf() -> f32 { var bits = 0x7f800000u; return bitcast<f32>(bits); }
fn nan_f32() -> f32 { var bits = 0x7fc00000u; return bitcast<f32>(bits); }
`;

/** A float as a WGSL literal (finite values only). */
export function f32Lit(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`f32Lit: ${x} is not a finite number`);
  const s = String(Math.fround(x));
  return /[.eE]/.test(s) ? s : `${s}.0`;
}
