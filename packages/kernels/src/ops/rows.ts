// Scaffolding for kernels that work row by row over the last axis (softmax, cross-entropy, norms):
// each row gets TY lanes of a workgroup (TX rows per workgroup); rows whose length is a multiple
// of 4 are read as vec4; short enough rows are held in registers between the passes over them.
import { rt } from '../runtime/current.ts';
import { kernelSource } from '../runtime/kernel-source.ts';
import { profile } from '../runtime/profile.ts';
import { bindings, Params } from '../wgsl.ts';
import { enableFor, entry, FLOAT_HELPERS, foldGroups, groupReduce, laneSetup, makeLanes, maxThreads, pow2ceil, rowLanes, type Lanes, type State } from './reduce-kit.ts';

export interface RowPlan {
  rows: number;
  cols: number;
  lanes: Lanes;
  /** 4 when rows are read as vec4 (cols % 4 == 0), else 1. */
  width: number;
  /** Units per row: cols / width. */
  units: number;
  /** Units each lane handles. */
  perLane: number;
  /** The lane's units live in registers (`<name>_c<k>`) between passes. */
  cached: boolean;
  groups: number;
}

export function planRows(rows: number, cols: number): RowPlan {
  const width = cols % 4 === 0 ? 4 : 1;
  const units = cols / width;
  const TY = rowLanes(units);
  const TX = Math.max(1, Math.min(maxThreads() / TY, pow2ceil(rows)));
  const perLane = Math.ceil(units / TY);
  return { rows, cols, lanes: makeLanes(TX, TY, true), width, units, perLane, cached: perLane <= profile().reduce.maxCached, groups: Math.ceil(rows / TX) };
}

/** Builds one row kernel. Row-shaped bindings have element type `V` (f32 or vec4<f32>). */
export class RowKernel {
  private decls: string[] = [];
  /** The row count is a uniform, not baked: batch sizes vary, and each baked shape is a compile. */
  private params: Params;

  constructor(readonly plan: RowPlan) {
    this.params = new Params().u32('rows', plan.rows).u32('groups', plan.groups);
  }

  /** Combines `v` across the row's lanes (every lane gets the total); emit at the top level of main. */
  reduce(v: string, state: State, tag: string): string {
    const r = groupReduce(this.plan.lanes, v, state, tag);
    this.decls.push(r.decl);
    return r.code;
  }

  /** Reads `names` (row-shaped bindings) into registers when the plan caches rows. */
  load(names: string[]): string {
    const plan = this.plan;
    if (!plan.cached) return '';
    const decls = names.flatMap((n) => Array.from({ length: plan.perLane }, (_, k) => `var ${n}_c${k} = V(0.0);`));
    return `${decls.join(' ')}\n  ${this.each((_, k) => names.map((n) => `${n}_c${k} = ${n}[rb + u];`).join(' '))}`;
  }

  /**
   * Loops over this lane's units `u`; `body(at)` uses `at(name)` for the unit of a row-shaped
   * binding: its register when cached (assignable), a load otherwise.
   */
  each(body: (at: (name: string) => string, k: number) => string): string {
    const { cached, perLane, units, lanes } = this.plan;
    if (!cached) return `for (var u = ty; u < ${units}u; u += ${lanes.TY}u) { ${body((n) => `${n}[rb + u]`, -1)} }`;
    const blocks: string[] = [];
    for (let k = 0; k < perLane; k++) {
      const guard = (k + 1) * lanes.TY > units ? ` if (u < ${units}u)` : '';
      blocks.push(`{ let u = ty + ${k * lanes.TY}u;${guard} { ${body((n) => `${n}_c${k}`, k)} } }`);
    }
    return blocks.join('\n  ');
  }

  /** Defines `m` (row max) and `s` (Σ exp(x − m)) of row-shaped binding `x`; `keepExp` leaves exp(x − m) in the registers. */
  maxAndSumExp(x: string, keepExp: boolean): string {
    if (this.plan.cached) {
      // Two cheap register passes: max, then exp.
      return `var m = lo_f32;
  ${this.each((at) => `m = max(m, hmax(${at(x)}));`)}
  ${this.reduce('m', { type: 'f32', combine: 'comb_max' }, 'm')}
  var s = 0.0;
  ${this.each((at) => `let e = exp(${at(x)} - m); s += hsum(e);${keepExp ? ` ${at(x)} = e;` : ''}`)}
  ${this.reduce('s', { type: 'f32', combine: 'comb_sum' }, 's')}`;
    }
    // One pass over memory: a running max, the sum rescaled whenever the max grows.
    return `var ms = vec2<f32>(lo_f32, 0.0);
  ${this.each((at) => `let v = ${at(x)}; let vm = hmax(v); if (vm > ms.x) { ms.y *= exp(ms.x - vm); ms.x = vm; } ms.y += hsum(exp(v - ms.x));`)}
  ${this.reduce('ms', { type: 'vec2<f32>', combine: 'comb_ms' }, 'ms')}
  let m = ms.x;
  let s = ms.y;`;
  }

  /**
   * The whole shader. `body` runs after the prelude of main, which defines `tx`, `ty`, `row`
   * (clamped to a real row so loads stay in range), `row_ok` (false on the padding rows of the last
   * workgroup: they must not write) and `rb` (the row's first unit). Generate `body` before calling.
   */
  shader(inputs: Array<[string, string]>, outputs: Array<[string, string]>, body: string): string {
    const { plan } = this;
    const l = plan.lanes;
    return `${enableFor(l)}${bindings(inputs, outputs)}${this.params.decl(inputs.length + outputs.length)}${FLOAT_HELPERS}
alias V = ${plan.width === 4 ? 'vec4<f32>' : 'f32'};
const lo_f32 = -3.4028234663852886e38;
fn hsum(v: V) -> f32 { return ${plan.width === 4 ? '(v.x + v.y) + (v.z + v.w)' : 'v'}; }
fn hmax(v: V) -> f32 { return ${plan.width === 4 ? 'max(max(v.x, v.y), max(v.z, v.w))' : 'v'}; }
fn comb_sum(a: f32, b: f32) -> f32 { return a + b; }
fn comb_sum2(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> { return a + b; }
fn comb_max(a: f32, b: f32) -> f32 { return max(a, b); }
// (max, Σ exp(x − max)) pairs merged online; the identity (lo_f32, 0) never makes exp overflow.
fn comb_ms(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let m = max(a.x, b.x);
  return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}
${this.decls.join('')}
${entry(l)} {
  let wid = wg.x + wg.y * nwg.x;
  if (wid >= p.groups) { return; }
  ${laneSetup(l)}
  let row_raw = wid * ${l.TX}u + tx;
  let row_ok = row_raw < p.rows;
  let row = min(row_raw, p.rows - 1u);
  let rb = row * ${plan.units}u;
  ${body}
}`;
  }

  /**
   * The shader for `key` under this plan, built by `build` (which generates the body with this
   * kernel's helpers and calls `shader`) only on first use; `key` names the op and whatever else
   * its body depends on.
   */
  source(key: string, build: () => string): string {
    const { plan } = this;
    const l = plan.lanes;
    return kernelSource(`rows:${key}:${l.TX},${l.TY},${l.tyFast},${l.subgroup}:${plan.width}:${plan.units}:${plan.perLane}:${plan.cached}`, build);
  }

  dispatch(name: string, code: string, inputs: GPUBuffer[], outputs: GPUBuffer[]): void {
    rt().dispatch({ name, code, inputs, outputs, params: this.params.pack(), workgroups: foldGroups(this.plan.groups) });
  }
}
