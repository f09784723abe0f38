// Reductions over any set of axes: sum, mean, max, min, argmax, and sumTo (the gradient of broadcasting).
// The reduced axes are treated as if moved last, through baked strides (nothing is transposed): each
// workgroup reduces TX outputs with TY lanes apiece, then combines the lanes (tree or subgroups).
// Past 64k elements per output, several workgroups share an output and a second pass combines them.
import { DeviceArray, type DType } from '../array.ts';
import { rt } from '../runtime/current.ts';
import { kernelSource } from '../runtime/kernel-source.ts';
import { collapseDims, contiguousStrides, fmt, normAxis, shapesEqual, sizeOf, type Shape } from '../shape.ts';
import { bindings } from '../wgsl.ts';
import { mapElementwise } from './elementwise.ts';
import {
  chooseSplits,
  enableFor,
  entry,
  f32Lit,
  FLOAT_HELPERS,
  foldGroups,
  groupReduce,
  laneSetup,
  makeLanes,
  maxThreads,
  pow2ceil,
  rowLanes,
  workgroupIndex,
  type Lanes,
} from './reduce-kit.ts';

export type Axes = number | readonly number[];
type Kind = 'sum' | 'max' | 'min' | 'argmax';

/** Dimensions merged where memory allows: `offset(i) = Σ coord_d(i) · strides[d]`. */
interface Dims {
  shape: number[];
  strides: number[];
}

/** Sum over `axes` (all when undefined; negative allowed; [] copies). Empty reductions give 0. */
export function sum(x: DeviceArray, axes?: Axes, keepDims = false): DeviceArray {
  return reduce('sum', x, axes, keepDims);
}

/** Mean over `axes` (always f32). The mean of an empty reduction is NaN. */
export function mean(x: DeviceArray, axes?: Axes, keepDims = false): DeviceArray {
  return reduce('mean', x, axes, keepDims);
}

/** Maximum over `axes`; NaN propagates. Throws when the reduction is empty. */
export function max(x: DeviceArray, axes?: Axes, keepDims = false): DeviceArray {
  return reduce('max', x, axes, keepDims);
}

/** Minimum over `axes`; NaN propagates. Throws when the reduction is empty. */
export function min(x: DeviceArray, axes?: Axes, keepDims = false): DeviceArray {
  return reduce('min', x, axes, keepDims);
}

/**
 * Index (i32) of the maximum along `axis` (the flat index over all elements when undefined). Ties
 * give the first index and NaN counts as the maximum, like NumPy.
 */
export function argmax(x: DeviceArray, axis?: number, keepDims = false): DeviceArray {
  return reduce('argmax', x, axis, keepDims);
}

/**
 * Sums `x` (a broadcast result) back to `shape`, the shape of one operand: over the leading extra
 * dimensions and where `shape` has 1. `shape` must broadcast to `x.shape`.
 */
export function sumTo(x: DeviceArray, shape: Shape): DeviceArray {
  const lead = x.rank - shape.length;
  const bad = () => new Error(`sumTo: cannot reduce ${fmt(x.shape)} to ${fmt(shape)}: ${fmt(shape)} does not broadcast to ${fmt(x.shape)}`);
  if (lead < 0) throw bad();
  const axes: number[] = [];
  for (let i = 0; i < lead; i++) axes.push(i);
  shape.forEach((d, j) => {
    const full = x.shape[lead + j];
    if (d === full) return;
    if (d !== 1) throw bad();
    axes.push(lead + j);
  });
  const summed = sum(x, axes, true);
  if (shapesEqual(summed.shape, shape)) return summed;
  const out = summed.reshape(shape);
  summed.dispose();
  return out;
}

function resolveAxes(op: string, shape: Shape, axes: Axes | undefined): number[] {
  if (axes === undefined) return shape.map((_, i) => i);
  const list = (typeof axes === 'number' ? [axes] : [...axes]).map((a) => normAxis(op, a, shape.length));
  if (shape.length === 0) return []; // a scalar has no axes; normAxis accepts 0/-1 for it
  if (new Set(list).size !== list.length) throw new Error(`${op}: repeated axis in [${list.join(', ')}] for shape ${fmt(shape)}`);
  return list.sort((a, b) => a - b);
}

function reduce(op: Kind | 'mean', x: DeviceArray, axes: Axes | undefined, keepDims: boolean): DeviceArray {
  const ax = resolveAxes(op, x.shape, axes);
  const reducedSet = new Set(ax);
  const outShape = keepDims ? x.shape.map((d, i) => (reducedSet.has(i) ? 1 : d)) : x.shape.filter((_, i) => !reducedSet.has(i));
  const outDtype: DType = op === 'mean' ? 'f32' : op === 'argmax' ? 'i32' : x.dtype;
  const O = sizeOf(outShape);
  const R = ax.reduce((n, a) => n * x.shape[a], 1);

  if (ax.length === 0 && op !== 'argmax') {
    // Nothing reduced: a copy (mean converts to f32).
    if (outDtype !== x.dtype) return mapElementwise(op, 'v0', [x], { outDtype });
    const out = DeviceArray.empty(outShape, outDtype, op);
    rt().copy(x.buffer, 0, out.buffer, 0, O * 4);
    return out;
  }
  if (R === 0 && O > 0 && (op === 'max' || op === 'min' || op === 'argmax')) {
    throw new Error(`${op}: cannot reduce over zero elements (axes [${ax.join(', ')}] of shape ${fmt(x.shape)}); it has no identity`);
  }
  const out = DeviceArray.empty(outShape, outDtype, op);
  if (O === 0) return out;
  if (R === 0) {
    rt().fillWords(out.buffer, O, op === 'mean' ? 0x7fc00000 : 0);
    return out;
  }

  const strides = contiguousStrides(x.shape);
  const keptAxes = x.shape.map((_, i) => i).filter((i) => !reducedSet.has(i));
  const kind: Kind = op === 'mean' ? 'sum' : op;
  solve({
    name: op,
    kind,
    accType: op === 'mean' ? 'f32' : x.dtype,
    src: x.buffer,
    srcType: x.dtype,
    O,
    R,
    kept: collapse(keptAxes.map((i) => x.shape[i]), keptAxes.map((i) => strides[i])),
    red: collapse(ax.map((i) => x.shape[i]), ax.map((i) => strides[i])),
    out: out.buffer,
    outType: outDtype,
    divideBy: op === 'mean' ? R : undefined,
  });
  return out;
}

/** One reduction of `src` (offsets from `kept` and `red`) into `out`: one pass, or two for long ones. */
interface Problem {
  name: string;
  kind: Kind;
  accType: DType;
  src: GPUBuffer;
  srcType: DType;
  /** argmax second pass: indices of the partial maxima. */
  srcIdx?: GPUBuffer;
  O: number;
  R: number;
  kept: Dims;
  red: Dims;
  out: GPUBuffer;
  outType: DType;
  /** mean: the final pass divides by this. */
  divideBy?: number;
}

function solve(p: Problem): void {
  // vec4 loads when memory allows: a quarter of the loads (each costly on lavapipe; 16-byte loads
  // suit NVIDIA too). 'reduced': along a contiguous reduced run; 'kept': four adjacent outputs per
  // lane (column-like reductions). Counts and offsets are then in vec4 units.
  let vec: Vec = 'none';
  if (!p.srcIdx && reducedRunIsVec4(p.kept, p.red)) vec = 'reduced';
  else if (p.kind !== 'argmax' && keptRunIsVec4(p.kept, p.red)) vec = 'kept';
  const kept = vec === 'none' ? p.kept : unitsDims(p.kept, vec === 'kept');
  const red = vec === 'none' ? p.red : unitsDims(p.red, vec === 'reduced');
  const O = vec === 'kept' ? p.O / 4 : p.O;
  const R = vec === 'reduced' ? p.R / 4 : p.R;
  const lanes = chooseLanes(O, R, red);
  const tiles = Math.ceil(O / lanes.TX);
  const splits = Math.min(chooseSplits(p.R, tiles), R);
  const pass = { name: p.name, kind: p.kind, accType: p.accType, src: p.src, srcType: p.srcType, srcIdx: p.srcIdx, O, R, kept, red, lanes, vec };
  if (splits === 1) {
    runPass({ ...pass, splits: 1, out: p.out, outType: p.outType, divideBy: p.divideBy });
    return;
  }
  // First pass: each of `used` workgroups per output reduces a chunk into partials; the second
  // reduces the partials (whose layout keeps kept-vec4 units together) into the output.
  const chunk = Math.ceil(R / splits);
  const used = Math.ceil(R / chunk);
  const pv = DeviceArray.empty([p.O, used], p.accType, `${p.name}-partial`);
  const pi = p.kind === 'argmax' ? DeviceArray.empty([p.O, used], 'i32', `${p.name}-partial`) : null;
  runPass({ ...pass, name: `${p.name}-pass1`, splits: used, pv: pv.buffer, pi: pi?.buffer });
  const layout =
    vec === 'kept'
      ? { kept: { shape: [O, 4], strides: [4 * used, 1] }, red: { shape: [used], strides: [4] } }
      : { kept: { shape: [O], strides: [used] }, red: { shape: [used], strides: [1] } };
  solve({ ...p, name: `${p.name}-pass2`, src: pv.buffer, srcType: p.accType, srcIdx: pi?.buffer, R: used, ...layout });
  pv.dispose();
  pi?.dispose();
}

type Vec = 'none' | 'reduced' | 'kept';

const allDiv4 = (strides: number[], except = -1) => strides.every((st, k) => k === except || st % 4 === 0);

/** The innermost reduced run is contiguous and a multiple of 4 long, and every other offset is a multiple of 4. */
function reducedRunIsVec4(kept: Dims, red: Dims): boolean {
  const last = red.shape.length - 1;
  return red.strides[last] === 1 && red.shape[last] % 4 === 0 && allDiv4(red.strides, last) && allDiv4(kept.strides);
}

/** The innermost kept run is contiguous and a multiple of 4 long, and every other offset is a multiple of 4. */
function keptRunIsVec4(kept: Dims, red: Dims): boolean {
  const last = kept.shape.length - 1;
  return kept.strides[last] === 1 && kept.shape[last] % 4 === 0 && allDiv4(kept.strides, last) && allDiv4(red.strides);
}

/** Dims in vec4 units: the innermost run (when `vectorised`) shrinks 4x at unit stride; other strides divide by 4. */
function unitsDims(d: Dims, vectorised: boolean): Dims {
  const last = d.shape.length - 1;
  return {
    shape: d.shape.map((n, k) => (vectorised && k === last ? n / 4 : n)),
    strides: d.strides.map((st, k) => (vectorised && k === last ? 1 : st / 4)),
  };
}

function collapse(shape: number[], strides: number[]): Dims {
  const c = collapseDims(shape, [strides]);
  return { shape: c.shape, strides: c.strides[0] };
}

/** Row-like (reduced elements adjacent in memory): lanes along the reduction; else lanes along outputs. */
function chooseLanes(O: number, R: number, red: Dims): Lanes {
  const W = maxThreads();
  const redInner = red.strides[red.strides.length - 1];
  if (O === 1 || (redInner === 1 && R > 1)) {
    const TY = rowLanes(R);
    return makeLanes(Math.min(W / TY, pow2ceil(O)), TY, true);
  }
  // Column-like: adjacent lanes take adjacent outputs so reads coalesce; the rest share the reduction.
  let TX = Math.min(pow2ceil(O), Math.max(16, W / 4));
  const TY = Math.min(W / TX, pow2ceil(R));
  TX = Math.min(W / TY, pow2ceil(O));
  return makeLanes(TX, TY, false);
}

/** `offset(v) = Σ coord_d(v) · strides[d]` with the shape baked in. */
function offsetExpr(v: string, d: Dims): string {
  const terms: string[] = [];
  let inner = 1;
  for (let k = d.shape.length - 1; k >= 0; k--) {
    const q = inner === 1 ? v : `(${v} / ${inner}u)`;
    const coord = k === 0 ? q : `(${q} % ${d.shape[k]}u)`;
    if (d.strides[k] !== 0) terms.push(d.strides[k] === 1 ? coord : `${coord} * ${d.strides[k]}u`);
    inner *= d.shape[k];
  }
  return terms.length ? terms.join(' + ') : '0u';
}

interface PassSpec {
  name: string;
  kind: Kind;
  accType: string;
  src: GPUBuffer;
  srcType: DType;
  /** argmax second pass: indices of the partial maxima. */
  srcIdx?: GPUBuffer;
  O: number;
  R: number;
  kept: Dims;
  red: Dims;
  lanes: Lanes;
  /** vec4 loads along the reduction or across four outputs (O, R and offsets are then in vec4 units). */
  vec: Vec;
  splits: number;
  /** Final output (value, or the index for argmax), optionally divided by `divideBy` (mean). */
  out?: GPUBuffer;
  outType?: DType;
  divideBy?: number;
  /** Partial outputs [O, splits] of a first pass. */
  pv?: GPUBuffer;
  pi?: GPUBuffer;
}

function lowest(t: string): string {
  return t === 'f32' ? 'neg_inf()' : t === 'i32' ? 'i32(-2147483648)' : '0u';
}
function highest(t: string): string {
  return t === 'f32' ? 'pos_inf()' : t === 'i32' ? '2147483647i' : '4294967295u';
}

/** The state type, its identity, and `combine` for one kind of reduction (`lanes`: 4 for vec4 states). */
function stateCode(kind: Kind, t: string, lanes: number): { type: string; fields?: string[]; identity: string; decl: string } {
  const nanCheck = t === 'f32';
  const type = lanes === 4 ? `vec4<${t}>` : t;
  switch (kind) {
    case 'sum':
      return { type, identity: `${type}(0)`, decl: `fn combine(a: ${type}, b: ${type}) -> ${type} { return a + b; }` };
    case 'max':
    case 'min': {
      const pick = `${kind}(a, b)`;
      const isNan = lanes === 4 ? 'is_nan4' : 'is_nan';
      const body = nanCheck ? `select(select(${pick}, b, ${isNan}(b)), a, ${isNan}(a))` : pick;
      const identity = `${type}(${kind === 'max' ? lowest(t) : highest(t)})`;
      return { type, identity, decl: `fn combine(a: ${type}, b: ${type}) -> ${type} { return ${body}; }` };
    }
    case 'argmax': {
      // NaN beats everything (first NaN wins); otherwise larger value, then smaller index.
      const better = nanCheck
        ? `let an = is_nan(a.v); let bn = is_nan(b.v);
  let take_b = select(select(b.v > a.v || (b.v == a.v && b.i < a.i), b.i < a.i, an), bn, an != bn);`
        : 'let take_b = b.v > a.v || (b.v == a.v && b.i < a.i);';
      return {
        type: 'S',
        fields: ['v', 'i'],
        identity: `S(${lowest(t)}, 2147483647i)`,
        decl: `struct S { v: ${t}, i: i32 }
fn combine(a: S, b: S) -> S {
  ${better}
  if (take_b) { return b; }
  return a;
}`,
      };
    }
  }
}

/** The per-element update of the accumulator `acc` from the loaded `src[off]`. */
function accumulate(p: PassSpec): string {
  const vec4Src = p.vec !== 'none';
  const convert = p.srcType === p.accType ? '' : vec4Src ? `vec4<${p.accType}>` : p.accType;
  const load = `${convert}(src[off])`;
  if (p.vec === 'kept' || p.vec === 'none') {
    // One element (or four outputs' elements at once): a plain combine.
    if (p.kind === 'argmax') return `acc = combine(acc, S(${load}, ${p.srcIdx ? 'src_idx[off]' : 'i32(r)'}));`;
    return p.kind === 'sum' ? `acc += ${load};` : `acc = combine(acc, ${load});`;
  }
  // Four consecutive elements of one output's reduction.
  const v = `let v = ${load};\n    `;
  if (p.kind === 'argmax') {
    return `${v}let i = i32(r) * 4;\n    ` + ['x', 'y', 'z', 'w'].map((c, k) => `acc = combine(acc, S(v.${c}, i + ${k}));`).join('\n    ');
  }
  if (p.kind === 'sum') return `${v}acc += (v.x + v.y) + (v.z + v.w);`;
  return `${v}acc = combine(acc, combine(combine(v.x, v.y), combine(v.z, v.w)));`;
}

function runPass(p: PassSpec): void {
  const { lanes: l, O, R, splits } = p;
  const tiles = Math.ceil(O / l.TX);
  const chunk = Math.ceil(R / splits);
  const keptVec = p.vec === 'kept';
  const st = stateCode(p.kind, p.accType, keptVec ? 4 : 1);
  const reduceCode = groupReduce(l, 'acc', { type: st.type, fields: st.fields, combine: 'combine' }, 'acc');
  const vecOf = (t: string) => (keptVec ? `vec4<${t}>` : t);

  const inputs: Array<[string, string]> = [['src', p.vec === 'none' ? p.srcType : `vec4<${p.srcType}>`]];
  if (p.srcIdx) inputs.push(['src_idx', 'i32']);
  const outputs: Array<[string, string]> = [];
  let write: string;
  if (p.out) {
    outputs.push(['out', vecOf(p.outType!)]);
    if (p.kind === 'argmax') write = 'out[o] = acc.i;';
    else if (p.divideBy !== undefined) write = `out[o] = ${vecOf(p.outType!)}(acc / ${f32Lit(p.divideBy)});`;
    else write = `out[o] = ${vecOf(p.outType!)}(acc);`;
  } else {
    outputs.push(['pv', vecOf(p.accType)]);
    if (p.pi) outputs.push(['pi', 'i32']);
    write = p.kind === 'argmax' ? `pv[o * ${splits}u + split] = acc.v;\n    pi[o * ${splits}u + split] = acc.i;` : `pv[o * ${splits}u + split] = acc;`;
  }

  const dims = (d: Dims) => `${d.shape}/${d.strides}`;
  const ending = p.out ? `${p.outType}/${p.divideBy}` : `partial${p.pi ? '+i' : ''}`;
  const key = `reduce:${p.kind}:${p.srcType}${p.srcIdx ? '+i' : ''}>${p.accType}:${O}x${R}:${dims(p.kept)}:${dims(p.red)}:${l.TX},${l.TY},${l.tyFast},${l.subgroup}:${p.vec}:${splits}:${ending}`;
  const code = kernelSource(key, () => `${enableFor(l)}${bindings(inputs, outputs)}${FLOAT_HELPERS}
${st.decl}
${reduceCode.decl}
${entry(l)} {
  ${workgroupIndex(tiles * splits)}
  let tile = wid % ${tiles}u;
  let split = wid / ${tiles}u;
  ${laneSetup(l)}
  let o = tile * ${l.TX}u + tx;
  let oc = min(o, ${O - 1}u);
  let base = ${offsetExpr('oc', p.kept)};
  let r_end = min(${R}u, split * ${chunk}u + ${chunk}u);
  var acc: ${st.type} = ${st.identity};
  for (var r = split * ${chunk}u + ty; r < r_end; r += ${l.TY}u) {
    let off = base + ${offsetExpr('r', p.red)};
    ${accumulate(p)}
  }
  ${reduceCode.code}
  if (ty == 0u && o < ${O}u) {
    ${write}
  }
}`);
  const buffers = [p.src, ...(p.srcIdx ? [p.srcIdx] : [])];
  const outBuffers = p.out ? [p.out] : [p.pv!, ...(p.pi ? [p.pi] : [])];
  rt().dispatch({ name: p.name, code, inputs: buffers, outputs: outBuffers, workgroups: foldGroups(tiles * splits) });
}
