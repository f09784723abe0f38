// Memory accounting: live and peak bytes of pooled GPU buffers, and live arrays.
import { DeviceArray, rt } from '@sd/kernels';

export interface MemoryInfo {
  /** Bytes in buffers handed out to live arrays. */
  liveBytes: number;
  /** Highest `liveBytes` so far. */
  peakBytes: number;
  /** Bytes held in the pool for reuse. */
  pooledBytes: number;
  /** Arrays not yet disposed. */
  liveArrays: number;
}

export function memory(): MemoryInfo {
  const pool = rt().pool;
  return { liveBytes: pool.liveBytes, peakBytes: pool.peakBytes, pooledBytes: pool.pooledBytes, liveArrays: DeviceArray.live };
}
