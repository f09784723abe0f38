// gather (jnp.take / a generalised torch.index_select) and its gradient scatterAdd.
// scatterAdd is deterministic: indices are bucketed by destination with a counting sort whose
// buckets are then ordered by source position, so repeated indices are always summed in the same order.
import { DeviceArray } from '../array.ts';
import { rt } from '../runtime/current.ts';
import { fmt, normAxis, sizeOf } from '../shape.ts';
import { bindings, grid, gridMain, linearIndex, WG } from '../wgsl.ts';

/** Consecutive innermost elements one invocation handles (unrolled): fewer index computations. */
function elementsPerInvocation(inner: number): number {
  return inner % 4 === 0 ? 4 : inner % 2 === 0 ? 2 : 1;
}

/**
 * Splits the invocation index over [outer, mid, inner / per] into WGSL lets `o`, `j` and `k` (the
 * first of `per` innermost elements), skipping trivial divisions.
 */
function splitIndex(mid: number, inner: number, outer: number, per: number): string {
  const groups = inner / per;
  return [
    groups === 1 ? 'let k = 0u;' : `let k = (idx % ${groups}u) * ${per}u;`,
    groups === 1 ? 'let t = idx;' : `let t = idx / ${groups}u;`,
    outer === 1 ? 'let j = t;' : `let j = t % ${mid}u;`,
    outer === 1 ? 'let o = 0u;' : `let o = t / ${mid}u;`,
  ].join('\n  ');
}

/** `f(q)` for q = 0 … per−1, joined as WGSL statements. */
function unrolled(per: number, f: (q: string) => string): string {
  return Array.from({ length: per }, (_, q) => f(q === 0 ? '' : ` + ${q}u`)).join('\n    ');
}

function checkIndices(op: string, indices: DeviceArray): void {
  if (indices.dtype !== 'i32') throw new Error(`${op}: indices must be i32, got ${indices.dtype} of shape ${fmt(indices.shape)}`);
}

/**
 * Picks entries of `x` along `axis`: out.shape = x.shape[:axis] + indices.shape + x.shape[axis+1:],
 * out[a…, i…, b…] = x[a…, indices[i…], b…]. Indices are not wrapped: an index outside
 * [0, x.shape[axis]) — negative ones included — yields 0 (the GPU cannot throw).
 */
export function gather(x: DeviceArray, indices: DeviceArray, axis: number): DeviceArray {
  checkIndices('gather', indices);
  if (x.rank === 0) throw new Error('gather: cannot index a scalar (shape [])');
  const ax = normAxis('gather', axis, x.rank);
  const outer = sizeOf(x.shape.slice(0, ax));
  const dim = x.shape[ax];
  const inner = sizeOf(x.shape.slice(ax + 1));
  const count = indices.size;
  const shape = [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)];
  const out = DeviceArray.empty(shape, x.dtype, 'gather');
  const total = out.size;
  if (total === 0) return out;
  const per = elementsPerInvocation(inner);
  const code = `${bindings([['x', x.dtype], ['indices', 'i32']], [['out', x.dtype]])}
${gridMain()} {
  let idx = ${linearIndex()};
  if (idx >= ${total / per}u) { return; }
  ${splitIndex(count, inner, outer, per)}
  let i = indices[j];
  let dst = idx * ${per}u;
  if (i >= 0 && i < ${dim}) {
    let src = (o * ${dim}u + u32(i)) * ${inner}u + k;
    ${unrolled(per, (q) => `out[dst${q}] = x[src${q}];`)}
  } else {
    ${unrolled(per, (q) => `out[dst${q}] = ${x.dtype}(0);`)}
  }
}`;
  rt().dispatch({ name: 'gather', code, inputs: [x.buffer, indices.buffer], outputs: [out.buffer], workgroups: grid(total / per) });
  return out;
}

/**
 * The gradient of `gather(x, indices, axis)` with x.shape[axis] = `size`: a zero array of x's shape
 * into which every slice of `updates` (shape x.shape[:axis] + indices.shape + x.shape[axis+1:]) is
 * added at its index. Repeated indices accumulate, always in increasing index-position order, so
 * the result is bit-for-bit reproducible. Out-of-range indices are ignored (matching gather's zeros).
 */
export function scatterAdd(updates: DeviceArray, indices: DeviceArray, axis: number, size: number): DeviceArray {
  checkIndices('scatterAdd', indices);
  if (updates.dtype !== 'f32') throw new Error(`scatterAdd: updates must be f32, got ${updates.dtype}`);
  if (!Number.isInteger(size) || size < 0) throw new Error(`scatterAdd: invalid destination size ${size}`);
  if (axis < 0) axis += updates.rank - indices.rank + 1; // axes count in x's rank
  const pre = updates.shape.slice(0, axis);
  const mid = updates.shape.slice(axis, axis + indices.rank);
  const post = updates.shape.slice(axis + indices.rank);
  if (axis < 0 || axis + indices.rank > updates.rank || !mid.every((d, i) => d === indices.shape[i])) {
    throw new Error(`scatterAdd: updates ${fmt(updates.shape)} do not hold indices ${fmt(indices.shape)} at axis ${axis}`);
  }
  const outer = sizeOf(pre);
  const inner = sizeOf(post);
  const count = indices.size;
  const out = DeviceArray.empty([...pre, size, ...post], 'f32', 'scatterAdd');
  if (out.size === 0) return out;

  const r = rt();
  const starts = DeviceArray.empty([size + 1], 'u32', 'scatterAdd');
  const bucketed = DeviceArray.empty([count], 'u32', 'scatterAdd');
  const ordered = DeviceArray.empty([count], 'u32', 'scatterAdd');
  const counts = DeviceArray.empty([size], 'u32', 'scatterAdd');
  const cursor = DeviceArray.empty([size], 'u32', 'scatterAdd');
  r.fillWords(counts.buffer, size, 0);
  r.fillWords(cursor.buffer, size, 0);
  const inRange = `let b = indices[j]; if (b < 0 || b >= ${size}) { return; }`;
  const perIndex = (body: string) => `${gridMain()} {
  let j = ${linearIndex()};
  if (j >= ${count}u) { return; }
  ${inRange}
  ${body}
}`;

  // 1. How many indices hit each destination.
  r.dispatch({
    name: 'scatterAdd_count',
    code: `${bindings([['indices', 'i32']], [['counts', 'atomic<u32>']])}${perIndex('atomicAdd(&counts[b], 1u);')}`,
    inputs: [indices.buffer],
    outputs: [counts.buffer],
    workgroups: grid(count),
  });
  // 2. Exclusive prefix sum: bucket n is starts[n] .. starts[n+1].
  const chunk = Math.ceil(size / WG);
  r.dispatch({
    name: 'scatterAdd_scan',
    code: `${bindings([['counts', 'u32']], [['starts', 'u32']])}
var<workgroup> partial: array<u32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) t: u32) {
  let lo = min(t * ${chunk}u, ${size}u);
  let hi = min(lo + ${chunk}u, ${size}u);
  var sum = 0u;
  for (var i = lo; i < hi; i++) { sum += counts[i]; }
  partial[t] = sum;
  workgroupBarrier();
  if (t == 0u) {
    var acc = 0u;
    for (var i = 0u; i < ${WG}u; i++) { let v = partial[i]; partial[i] = acc; acc += v; }
    starts[${size}u] = acc;
  }
  workgroupBarrier();
  var acc = partial[t];
  for (var i = lo; i < hi; i++) { starts[i] = acc; acc += counts[i]; }
}`,
    inputs: [counts.buffer],
    outputs: [starts.buffer],
    workgroups: [1],
  });
  // 3. Drop each index position into its bucket (in arbitrary order: atomics race) …
  r.dispatch({
    name: 'scatterAdd_bucket',
    code: `${bindings([['indices', 'i32'], ['starts', 'u32']], [['cursor', 'atomic<u32>'], ['bucketed', 'u32']])}${perIndex(
      'let slot = atomicAdd(&cursor[b], 1u);\n  bucketed[starts[b] + slot] = j;',
    )}`,
    inputs: [indices.buffer, starts.buffer],
    outputs: [cursor.buffer, bucketed.buffer],
    workgroups: grid(count),
  });
  // 4. … then order each bucket by position: j's rank is the number of smaller positions in its bucket.
  r.dispatch({
    name: 'scatterAdd_order',
    code: `${bindings([['indices', 'i32'], ['starts', 'u32'], ['bucketed', 'u32']], [['ordered', 'u32']])}${perIndex(`let lo = starts[b];
  let hi = starts[b + 1];
  var rank = 0u;
  for (var s = lo; s < hi; s++) { rank += select(0u, 1u, bucketed[s] < j); }
  ordered[lo + rank] = j;`)}`,
    inputs: [indices.buffer, starts.buffer, bucketed.buffer],
    outputs: [ordered.buffer],
    workgroups: grid(count),
  });
  // 5. Every destination element sums its bucket's rows in position order (zero for empty buckets).
  const total = out.size;
  const per = elementsPerInvocation(inner);
  r.dispatch({
    name: 'scatterAdd_sum',
    code: `${bindings([['updates', 'f32'], ['starts', 'u32'], ['ordered', 'u32']], [['out', 'f32']])}
${gridMain()} {
  let idx = ${linearIndex()};
  if (idx >= ${total / per}u) { return; }
  ${splitIndex(size, inner, outer, per)}
  var acc = array<f32, ${per}>();
  for (var s = starts[j]; s < starts[j + 1u]; s++) {
    let row = (o * ${count}u + ordered[s]) * ${inner}u + k;
    ${unrolled(per, (q) => `acc[0${q}] += updates[row${q}];`)}
  }
  let dst = idx * ${per}u;
  ${unrolled(per, (q) => `out[dst${q}] = acc[0${q}];`)}
}`,
    inputs: [updates.buffer, starts.buffer, ordered.buffer],
    outputs: [out.buffer],
    workgroups: grid(total / per),
  });
  for (const a of [starts, bucketed, ordered, counts, cursor]) a.dispose();
  return out;
}
