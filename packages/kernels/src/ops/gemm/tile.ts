// The tile shapes of the workgroup-memory GEMM (matmul 'nvidia'/'portable', conv2d 'tiled') and the
// one rule that picks between the large and the small tile.

/** A workgroup computes bm × bn of C, staging bk-deep slices of A and B; each thread keeps tm × tn. */
export interface GemmConfig {
  bm: number;
  bn: number;
  bk: number;
  /** Rows and columns of C per thread; multiples of 4. */
  tm: number;
  tn: number;
  /** Fetch the next slices into registers while the current ones are used (two workgroup buffers). */
  doubleBuffer: boolean;
}

/** 256 threads with 8×8 blocks, the shape of the fast CUDA SGEMMs: for problems with enough tiles to fill a big GPU. */
export const GEMM_LARGE: GemmConfig = { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, doubleBuffer: true };
/** 256 threads × 4×4: for problems that would leave most of a big GPU idle with 128×128 tiles; fits any adapter's 16 KiB. */
export const GEMM_SMALL: GemmConfig = { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, doubleBuffer: true };
/** GEMM_SMALL single-buffered: conservative limits, runs on any WebGPU adapter. */
export const GEMM_PORTABLE: GemmConfig = { ...GEMM_SMALL, doubleBuffer: false };

/**
 * GEMM_LARGE once the problem has at least `bigTilesFrom` large tiles (m × n per matrix, times
 * `matrices`), else GEMM_SMALL. Each op passes its own profile threshold and what it counts as matrices.
 */
export function pickGemmTile(m: number, n: number, matrices: number, bigTilesFrom: number): GemmConfig {
  const bigTiles = Math.ceil(m / GEMM_LARGE.bm) * Math.ceil(n / GEMM_LARGE.bn) * matrices;
  return bigTiles >= bigTilesFrom ? GEMM_LARGE : GEMM_SMALL;
}
