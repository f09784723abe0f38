// The GEMM generator shared by matmul ('nvidia'/'portable') and conv2d ('tiled': forward, input and
// weight gradients). A workgroup computes a bm × bn tile of C = A·B; each k step stages a bm × bk
// slice of A and a bk × bn slice of B in workgroup memory, both k-major (As[k][m], Bs[k][n]) so that
// every thread reads its tm × tn register block as vec4s along m and n. How the slices are fetched
// from global memory (a strided matrix, an im2col gather) is the operand loaders' business
// (./operands.ts); the bindings, uniforms, prologue and output stores are the calling kernel's: this
// returns the pieces for it to place.
import { type Schedule, convSchedule, matmulSchedule } from './schedule.ts';
import type { GemmConfig } from './tile.ts';

/** What an operand loader is told: its tile is `bk` deep along k and `span` wide (bm for A, bn for B). */
export interface OperandContext {
  tile: GemmConfig;
  threads: number;
  span: number;
  /** The WGSL lvalue of vec4 `index` of the operand's workgroup tile in buffer `buf`. */
  slot: (index: string) => string;
}

/**
 * Statement lines staging one slice: `load` reads global memory into registers (in scope: `lid`,
 * `m0`, `n0`, `k0` = the slice's first k, and whatever the kernel's prologue defines), `store`
 * writes the registers to workgroup memory through `slot` (`buf` in scope).
 */
export interface OperandStaging {
  regs: string[];
  load: string[];
  store: string[];
}

export interface OperandLoader {
  /** Whether it can stage this tile with this many threads. */
  fits(ctx: OperandContext): boolean;
  stage(ctx: OperandContext): OperandStaging;
}

/**
 * How the kernel spells what is otherwise the same algorithm: matmul's and conv2d's shaders were
 * written apart and are kept byte-identical (see ./schedule.ts).
 */
export interface GemmSpelling {
  /** Name of the accumulator of row r and column vec4 j of the thread's block. */
  acc: (r: number, j: number) => string;
  /** Workgroup tiles as one array per buffer (As[buf][i]) or as one flat array (As[buf·size + i]). */
  buffers: 'nested' | 'flat';
  schedule: Schedule;
}

export const MATMUL_SPELLING: GemmSpelling = { acc: (r, j) => `acc_${r}_${j}`, buffers: 'nested', schedule: matmulSchedule };
export const CONV_SPELLING: GemmSpelling = { acc: (r, j) => `acc${r}_${j}`, buffers: 'flat', schedule: convSchedule };

export interface GemmSpec {
  /** Names the kernel in errors. */
  name: string;
  tile: GemmConfig;
  a: OperandLoader;
  b: OperandLoader;
  /** Number of bk-deep slices (u32 expression). */
  kTiles: string;
  /**
   * Bound of a loop over the k steps of one slice (u32 expression: a constant lets compilers unroll
   * it, a uniform keeps compile times low); undefined: the steps are written out.
   */
  kLoopBound?: string;
  spelling: GemmSpelling;
}

/**
 * The generated pieces. The kernel must define `lid` (local_invocation_index), `m0`, `n0` (the
 * tile's origin in C) and `tx`, `ty` (u32: the thread's position in the threadsN × threadsM grid).
 */
export interface GemmBody {
  /** Threads along n and along m. */
  threadsN: number;
  threadsM: number;
  /** Workgroup-memory declarations of As and Bs. */
  tiles: string;
  regs: string[];
  accs: string[];
  /** Statements running the k loop, leaving the thread's block of C in the accumulators. */
  mainLoop: string;
  /** The thread's block of C: row r is `m0 + rows[r]`, columns `n0 + cols[j]` … +3 hold acc(r, j) (a vec4). */
  rows: string[];
  cols: string[];
  acc: (r: number, j: number) => string;
}

export function gemmBody(spec: GemmSpec): GemmBody {
  const { tile, spelling } = spec;
  const { bm, bn, bk, tm, tn } = tile;
  const threadsN = bn / tn;
  const threadsM = bm / tm;
  const threads = threadsN * threadsM;
  const nbuf = tile.doubleBuffer ? 2 : 1;
  const tileSlot = (name: string, size: number) => (index: string) =>
    spelling.buffers === 'nested' ? `${name}[buf][${index}]` : `${name}[buf * ${size}u + ${index}]`;
  const tileDecl = (name: string, size: number) =>
    spelling.buffers === 'nested'
      ? `var<workgroup> ${name}: array<array<vec4<f32>, ${size}>, ${nbuf}>;`
      : `var<workgroup> ${name}: array<vec4<f32>, ${size * nbuf}>;`;
  const aSize = (bk * bm) / 4; // vec4s per buffer
  const bSize = (bk * bn) / 4;
  const aCtx: OperandContext = { tile, threads, span: bm, slot: tileSlot('As', aSize) };
  const bCtx: OperandContext = { tile, threads, span: bn, slot: tileSlot('Bs', bSize) };
  if (tm % 4 || tn % 4 || bm % tm || bn % tn || !spec.a.fits(aCtx) || !spec.b.fits(bCtx)) {
    throw new Error(`${spec.name}: invalid GEMM tile ${JSON.stringify(tile)}`);
  }
  const a = spec.a.stage(aCtx);
  const b = spec.b.stage(bCtx);

  // The register-blocked product of one slice: thread rows 4·(ty + i·threadsM) … and columns 4·(tx + j·threadsN) …
  const acc = spelling.acc;
  const steps =
    spec.kLoopBound === undefined
      ? Array.from({ length: bk }, (_, k) => ({ open: '{', row: (width: number) => `${(k * width) / 4}u` }))
      : [{ open: `for (var k = 0u; k < ${spec.kLoopBound}; k++) {`, row: (width: number) => `k * ${width / 4}u` }];
  const compute: string[] = [];
  for (const step of steps) {
    compute.push(step.open);
    for (let i = 0; i < tm / 4; i++) compute.push(`  let a${i} = ${aCtx.slot(`${step.row(bm)} + ty + ${i * threadsM}u`)};`);
    for (let j = 0; j < tn / 4; j++) compute.push(`  let b${j} = ${bCtx.slot(`${step.row(bn)} + tx + ${j * threadsN}u`)};`);
    for (let r = 0; r < tm; r++) {
      for (let j = 0; j < tn / 4; j++) compute.push(`  ${acc(r, j)} += a${Math.floor(r / 4)}[${r % 4}] * b${j};`);
    }
    compute.push('}');
  }

  const accs: string[] = [];
  const rows: string[] = [];
  const cols: string[] = [];
  for (let r = 0; r < tm; r++) {
    rows.push(`(ty + ${Math.floor(r / 4) * threadsM}u) * 4u + ${r % 4}u`);
    for (let j = 0; j < tn / 4; j++) accs.push(`var ${acc(r, j)} = vec4<f32>(0.0);`);
  }
  for (let j = 0; j < tn / 4; j++) cols.push(`(tx + ${j * threadsN}u) * 4u`);

  const mainLoop = spelling.schedule({
    load: [...a.load, ...b.load],
    store: [...a.store, ...b.store],
    compute,
    kTiles: spec.kTiles,
    bk,
    doubleBuffer: tile.doubleBuffer,
  });
  return { threadsN, threadsM, tiles: `${tileDecl('As', aSize)}\n${tileDecl('Bs', bSize)}`, regs: [...a.regs, ...b.regs], accs, mainLoop, rows, cols, acc };
}
