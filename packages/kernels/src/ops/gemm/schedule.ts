// The k loop of the GEMM: stage a slice of A and B in workgroup memory, multiply it, move on. With
// double buffering the next slice is fetched into registers before the current one is multiplied
// and stored into the other workgroup buffer after it, so one barrier per slice suffices.
//
// Two spellings of that same schedule exist because the matmul and conv2d kernels were written apart
// and their shaders are kept byte-identical (a shader's text is its pipeline-cache key, and every
// benchmark so far measured these texts). They differ in names and statement order only.

/** The pieces a schedule arranges: statement lines and WGSL expressions. */
export interface ScheduleParts {
  /** Global → register loads of the slice starting at `k0`. */
  load: string[];
  /** Register → workgroup stores into buffer `buf`. */
  store: string[];
  /** The product of the slice in buffer `buf`. */
  compute: string[];
  /** Number of slices (u32 expression). */
  kTiles: string;
  bk: number;
  doubleBuffer: boolean;
}

export type Schedule = (s: ScheduleParts) => string;

/** One buffer: load, store, barrier, multiply, barrier; `head` defines `k0` and `buf` for the slice. */
function singleBuffered(loopVar: string, head: string[], s: Pick<ScheduleParts, 'load' | 'store' | 'compute' | 'kTiles'>): string {
  const body = [...head, ...s.load, ...s.store, 'workgroupBarrier();', ...s.compute, 'workgroupBarrier();'];
  return `for (var ${loopVar} = 0u; ${loopVar} < ${s.kTiles}; ${loopVar}++) {
    ${body.join('\n    ')}
  }`;
}

/** The matmul's spelling: `buf` at loop scope, the prefetch guarded by `t + 1u < kTiles`. */
export const matmulSchedule: Schedule = ({ load, store, compute, kTiles, bk, doubleBuffer }) =>
  doubleBuffer
    ? `let k0 = 0u;
  ${load.join('\n  ')}
  {
    let buf = 0u;
    ${store.join('\n    ')}
  }
  workgroupBarrier();
  for (var t = 0u; t < ${kTiles}; t++) {
    let buf = t % 2u;
    let k0 = (t + 1u) * ${bk}u;
    if (t + 1u < ${kTiles}) {
      ${load.join('\n      ')}
    }
    ${compute.join('\n    ')}
    if (t + 1u < ${kTiles}) {
      let buf = (t + 1u) % 2u;
      ${store.join('\n      ')}
    }
    workgroupBarrier();
  }`
    : singleBuffered('t', ['let buf = 0u;', `let k0 = t * ${bk}u;`], { load, store, compute, kTiles });

/** The conv2d spelling: the first slice in a block, the prefetch guarded by a `more` flag. */
export const convSchedule: Schedule = ({ load, store, compute, kTiles, bk, doubleBuffer }) =>
  doubleBuffer
    ? `{
    let k0 = 0u;
    ${load.join('\n    ')}
    let buf = 0u;
    ${store.join('\n    ')}
  }
  workgroupBarrier();
  for (var kt = 0u; kt < ${kTiles}; kt++) {
    let k0 = (kt + 1u) * ${bk}u;
    let more = kt + 1u < ${kTiles};
    if (more) {
      ${load.join('\n      ')}
    }
    {
      let buf = kt % 2u;
      ${compute.join('\n      ')}
    }
    if (more) {
      let buf = (kt + 1u) % 2u;
      ${store.join('\n      ')}
    }
    workgroupBarrier();
  }`
    : singleBuffered('kt', [`let k0 = kt * ${bk}u;`, 'let buf = 0u;'], { load, store, compute, kTiles });
