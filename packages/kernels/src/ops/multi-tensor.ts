// Many tensors in a few dispatches: an optimizer's tensors laid end to end in flat buffers
// ("segments"), so that the gradient norm and the AdamW update of every parameter are one dispatch
// each instead of one per tensor. A per-workgroup table maps each workgroup to its segment, so each
// segment is processed with exactly the per-tensor kernels' arithmetic: the results are
// bit-identical to sumOfSquares and adamw called tensor by tensor.
import { DeviceArray } from '../array.ts';
import { rt } from '../runtime/current.ts';
import { kernelSource } from '../runtime/kernel-source.ts';
import { fmt } from '../shape.ts';
import { bindings, Params, WG } from '../wgsl.ts';
import { sumOfSquaresFinal, sumOfSquaresGroups, TREE_REDUCE, type GradScale } from './adamw.ts';

/** One tensor's place in a flat buffer: elements [offset, offset + size). */
export interface Segment {
  offset: number;
  size: number;
}

/** Copies each array into its segment of `flat` (buffer copies, in stream order). */
export function gatherSegments(xs: readonly DeviceArray[], segments: readonly Segment[], flat: DeviceArray): void {
  checkSegments('gatherSegments', segments, flat, xs);
  xs.forEach((x, k) => rt().copy(x.buffer, 0, flat.buffer, segments[k].offset * 4, segments[k].size * 4));
}

/** Copies each segment of `flat` back into its array. */
export function scatterSegments(flat: DeviceArray, segments: readonly Segment[], xs: readonly DeviceArray[]): void {
  checkSegments('scatterSegments', segments, flat, xs);
  xs.forEach((x, k) => rt().copy(flat.buffer, segments[k].offset * 4, x.buffer, 0, segments[k].size * 4));
}

function checkSegments(op: string, segments: readonly Segment[], flat: DeviceArray, xs?: readonly DeviceArray[]): void {
  if (flat.dtype !== 'f32') throw new Error(`${op}: the flat buffer must be f32, got ${flat.dtype}`);
  if (xs && xs.length !== segments.length) throw new Error(`${op}: ${xs.length} arrays for ${segments.length} segments`);
  segments.forEach((s, k) => {
    if (s.offset < 0 || s.offset + s.size > flat.size) throw new Error(`${op}: segment ${k} [${s.offset}, ${s.offset + s.size}) lies outside the flat buffer ${fmt(flat.shape)}`);
    const x = xs?.[k];
    if (x && (x.dtype !== 'f32' || x.size !== s.size)) throw new Error(`${op}: array ${k} ${fmt(x.shape)} (${x.dtype}) does not fill segment ${k} of ${s.size} f32 elements`);
  });
}

/** Workgroup → segment tables for one kind of pass: per segment [offset, size, groups, first workgroup]; per workgroup its segment. */
interface Tables {
  segments: DeviceArray;
  owner: DeviceArray;
  workgroups: number;
}

/**
 * A fixed list of segments (an optimizer's parameters) and the small device tables its kernels
 * read, built on first use and kept until `dispose()`: an optimizer calls with the same list every step.
 */
export class SegmentedTensors {
  readonly segments: readonly Segment[];
  /** Elements in all: the size of the flat buffers. */
  readonly total: number;
  private tables = new Map<string, Tables>();
  private scalars: DeviceArray | null = null;

  constructor(sizes: readonly number[]) {
    let offset = 0;
    this.segments = sizes.map((size) => {
      if (!Number.isInteger(size) || size < 0) throw new Error(`SegmentedTensors: invalid size ${size}`);
      const s = { offset, size };
      offset += size;
      return s;
    });
    this.total = offset;
  }

  /** The sub-list of segments `indices` (e.g. the parameters that have gradients this step). */
  select(indices: readonly number[]): Segment[] {
    return indices.map((i) => this.segments[i]);
  }

  /**
   * Σ over the chosen segments of Σ x², as a new 1-element array: the same partial sums, in the
   * same order, as `sumOfSquares` over those segments as separate arrays, so the same bits.
   */
  sumOfSquares(flat: DeviceArray, indices: readonly number[]): DeviceArray {
    const chosen = this.select(indices);
    checkSegments('sumOfSquares (segments)', chosen, flat);
    const t = this.tablesFor('squares', indices, sumOfSquaresGroups);
    const partials = DeviceArray.empty([Math.max(1, t.workgroups)], 'f32', 'sumOfSquares');
    const count = new Params().u32('workgroups', t.workgroups);
    const code = kernelSource(
      'sumOfSquares_segments',
      () => `${bindings([['x', 'f32'], ['segments', 'u32'], ['owner', 'u32']], [['partials', 'f32']])}${count.decl(4)}
var<workgroup> scratch: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wg.x + wg.y * nwg.x;
  if (w >= p.workgroups) { return; }
  let k = owner[w];
  let offset = segments[4u * k];
  let n = segments[4u * k + 1u];
  let groups = segments[4u * k + 2u];
  let local = w - segments[4u * k + 3u];
  var acc = 0.0;
  for (var i = local * ${WG}u + t; i < n; i += groups * ${WG}u) { let v = x[offset + i]; acc += v * v; }
  ${TREE_REDUCE}
  if (t == 0u) { partials[w] = scratch[0]; }
}`,
    );
    if (t.workgroups > 0) {
      rt().dispatch({ name: 'sumOfSquares_segments', code, inputs: [flat.buffer, t.segments.buffer, t.owner.buffer], outputs: [partials.buffer], params: count.pack(), workgroups: fold(t.workgroups) });
    }
    const out = sumOfSquaresFinal(partials, t.workgroups);
    partials.dispose();
    return out;
  }

  /**
   * `adamw` on the chosen segments of the flat param/grad/m/v buffers in one dispatch, IN PLACE,
   * each with its own step count: bit-identical to `adamw` called per segment. The step-dependent
   * scalars travel in a small storage buffer, so the uniform (and the bind group) recur every step.
   */
  adamw(param: DeviceArray, grad: DeviceArray, m: DeviceArray, v: DeviceArray, indices: readonly number[], options: AdamWSegmentsOptions): void {
    this.prepareAdamw();
    this.writeAdamwScalars(indices, options);
    this.adamwUpdate(param, grad, m, v, indices, options);
  }

  /** Allocates what the AdamW update reads (its step-dependent scalars); call before `writeAdamwScalars`, which may not allocate. */
  prepareAdamw(): void {
    this.scalars ??= DeviceArray.empty([1 + 2 * this.segments.length], 'f32', 'adamw');
  }

  /**
   * Uploads the step-dependent scalars of an AdamW update: the decay factor and, per segment, the
   * bias-corrected step size and 1/√(1 − β₂ᵗ). Only uploads, so an optimizer can call it in a
   * `perRun` callback and a recorded step replays with the current learning rate and step counts.
   */
  writeAdamwScalars(indices: readonly number[], options: Pick<AdamWSegmentsOptions, 'lr' | 'steps' | 'beta1' | 'beta2' | 'weightDecay'>): void {
    const { lr, steps, beta1 = 0.9, beta2 = 0.999, weightDecay = 0.01 } = options;
    if (steps.length !== indices.length) throw new Error(`adamw (segments): ${steps.length} step counts for ${indices.length} segments`);
    for (const s of steps) if (!Number.isInteger(s) || s < 1) throw new Error(`adamw (segments): step must be an integer ≥ 1, got ${s}`);
    if (!this.scalars) throw new Error('adamw (segments): prepareAdamw() first');
    // The same f64 expressions as adamw(), rounded to f32 the same way (a Float32Array store).
    const scalars = new Float32Array(1 + 2 * this.segments.length);
    scalars[0] = 1 - lr * weightDecay;
    indices.forEach((i, k) => {
      scalars[1 + 2 * i] = lr / (1 - beta1 ** steps[k]);
      scalars[2 + 2 * i] = 1 / Math.sqrt(1 - beta2 ** steps[k]);
    });
    rt().upload(this.scalars.buffer, scalars);
  }

  /** The AdamW dispatch, reading the scalars last written by `writeAdamwScalars`. */
  adamwUpdate(param: DeviceArray, grad: DeviceArray, m: DeviceArray, v: DeviceArray, indices: readonly number[], options: Omit<AdamWSegmentsOptions, 'lr' | 'steps'>): void {
    const { beta1 = 0.9, beta2 = 0.999, eps = 1e-8 } = options;
    for (const [name, a] of Object.entries({ param, grad, m, v })) {
      if (a.dtype !== 'f32' || a.size !== this.total) throw new Error(`adamw (segments): ${name} ${fmt(a.shape)} (${a.dtype}) should be f32 with ${this.total} elements`);
    }
    if (!this.scalars) throw new Error('adamw (segments): prepareAdamw() first');
    const scaleBuffer = typeof options.gradScale === 'object' ? options.gradScale : null;
    if (scaleBuffer && (scaleBuffer.size !== 1 || scaleBuffer.dtype !== 'f32')) throw new Error(`adamw (segments): gradScale must be a 1-element f32 array, got ${fmt(scaleBuffer.shape)} ${scaleBuffer.dtype}`);
    const t = this.tablesFor('elements', indices, (size) => Math.ceil(size / WG));
    if (t.workgroups === 0) return;

    const params = new Params()
      .u32('workgroups', t.workgroups)
      .f32('beta1', beta1)
      .f32('one_minus_beta1', 1 - beta1)
      .f32('beta2', beta2)
      .f32('one_minus_beta2', 1 - beta2)
      .f32('eps', eps)
      .f32('scale', typeof options.gradScale === 'number' ? options.gradScale : 1);
    const inputs: Array<[string, string]> = [['grad', 'f32'], ['segments', 'u32'], ['owner', 'u32'], ['scalars', 'f32'], ...(scaleBuffer ? [['scale_buf', 'f32'] as [string, string]] : [])];
    const code = kernelSource(
      `adamw_segments:${!!scaleBuffer}`,
      () => `${bindings(inputs, [['param', 'f32'], ['m', 'f32'], ['v', 'f32']])}${params.decl(inputs.length + 3)}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wg.x + wg.y * nwg.x;
  if (w >= p.workgroups) { return; }
  let s = owner[w];
  let k = segments[4u * s + 2u]; // the segment's index in the scalars (its parameter index)
  let local = (w - segments[4u * s + 3u]) * ${WG}u + t;
  if (local >= segments[4u * s + 1u]) { return; }
  let i = segments[4u * s] + local;
  let decay = scalars[0];
  let step_size = scalars[1u + 2u * k];
  let inv_sqrt_bc2 = scalars[2u + 2u * k];
  let g = grad[i] * p.scale${scaleBuffer ? ' * scale_buf[0]' : ''};
  let mi = p.beta1 * m[i] + p.one_minus_beta1 * g;
  let vi = p.beta2 * v[i] + p.one_minus_beta2 * g * g;
  m[i] = mi;
  v[i] = vi;
  let denom = sqrt(vi) * inv_sqrt_bc2 + p.eps;
  param[i] = param[i] * decay - step_size * mi / denom;
}`,
    );
    rt().dispatch({
      name: 'adamw_segments',
      code,
      inputs: [grad.buffer, t.segments.buffer, t.owner.buffer, this.scalars.buffer, ...(scaleBuffer ? [scaleBuffer.buffer] : [])],
      outputs: [param.buffer, m.buffer, v.buffer],
      params: params.pack(),
      workgroups: fold(t.workgroups),
    });
  }

  dispose(): void {
    for (const t of this.tables.values()) (t.segments.dispose(), t.owner.dispose());
    this.tables.clear();
    this.scalars?.dispose();
    this.scalars = null;
  }

  /**
   * Tables for the chosen segments. 'squares': the third field is the segment's workgroup count
   * (sumOfSquares' split); 'elements': one workgroup per 256 elements and the third field is the
   * segment's parameter index (where its scalars are).
   */
  private tablesFor(kind: 'squares' | 'elements', indices: readonly number[], groupsOf: (size: number) => number): Tables {
    const key = `${kind}:${indices.join(',')}`;
    const hit = this.tables.get(key);
    if (hit) return hit;
    const info = new Uint32Array(indices.length * 4);
    const owner: number[] = [];
    indices.forEach((i, k) => {
      const s = this.segments[i];
      const groups = groupsOf(s.size);
      info.set([s.offset, s.size, kind === 'squares' ? groups : i, owner.length], 4 * k);
      for (let j = 0; j < groups; j++) owner.push(k);
    });
    const tables = {
      segments: DeviceArray.from(info.length ? info : new Uint32Array(4), [Math.max(4, info.length)], 'u32'),
      owner: DeviceArray.from(Uint32Array.from(owner), [owner.length], 'u32'),
      workgroups: owner.length,
    };
    this.tables.set(key, tables);
    return tables;
  }
}

/** Workgroups in two dimensions when one would pass the 65,535 limit (the kernels flatten them back). */
function fold(groups: number): [number, number] {
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}

export interface AdamWSegmentsOptions {
  lr: number;
  /** Each chosen segment's 1-based update count t (bias correction uses βᵗ). */
  steps: readonly number[];
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  gradScale?: GradScale;
}
