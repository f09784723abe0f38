// Size-bucketed pool of storage buffers: released buffers are reused instead of re-allocated.

/** Bucket sizes are 2^k and 1.5·2^k (waste ≤ 33%), at least 256 bytes. */
export function bucketSize(bytes: number): number {
  if (bytes <= 256) return 256;
  const pow = 2 ** Math.ceil(Math.log2(bytes));
  const threeQuarters = pow * 0.75;
  return bytes <= threeQuarters ? threeQuarters : pow;
}

export const STORAGE_USAGE = GPUBufferUsageFlags();

function GPUBufferUsageFlags(): number {
  // globalThis.GPUBufferUsage exists only after the Dawn globals are installed; the numbers are fixed by the spec.
  return 0x0080 /* STORAGE */ | 0x0004 /* COPY_SRC */ | 0x0008 /* COPY_DST */;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  /** Bytes held by live (handed-out) buffers, and the highest that has been. */
  liveBytes = 0;
  peakBytes = 0;
  /** Bytes sitting in free lists. */
  pooledBytes = 0;

  constructor(
    private device: GPUDevice,
    private maxBufferSize: number,
  ) {}

  acquire(bytes: number, label: string): GPUBuffer {
    const size = bucketSize(bytes);
    if (size > this.maxBufferSize && bytes <= this.maxBufferSize) return this.track(this.create(bytes, label));
    if (bytes > this.maxBufferSize) {
      throw new Error(`${label}: buffer of ${bytes} bytes requested, device allows at most ${this.maxBufferSize} bytes`);
    }
    const list = this.free.get(size);
    const reused = list?.pop();
    if (reused) {
      this.pooledBytes -= reused.size;
      return this.track(reused);
    }
    return this.track(this.create(size, label));
  }

  release(buffer: GPUBuffer): void {
    this.liveBytes -= buffer.size;
    this.restore(buffer);
  }

  /**
   * Takes a free buffer out of the pool for good (a recording keeps its intermediates); false if
   * the buffer is not in the pool (it is live).
   */
  claim(buffer: GPUBuffer): boolean {
    const list = this.free.get(buffer.size);
    const at = list?.lastIndexOf(buffer) ?? -1;
    if (at < 0) return false;
    list!.splice(at, 1);
    this.pooledBytes -= buffer.size;
    return true;
  }

  /** Whether the buffer sits in the pool (freed, not handed out). */
  isFree(buffer: GPUBuffer): boolean {
    return this.free.get(buffer.size)?.includes(buffer) ?? false;
  }

  /** Returns a claimed buffer to the pool. */
  restore(buffer: GPUBuffer): void {
    this.pooledBytes += buffer.size;
    let list = this.free.get(buffer.size);
    if (!list) this.free.set(buffer.size, (list = []));
    list.push(buffer);
  }

  /** Stops counting a live buffer as live without pooling it (freed while a recording still uses it). */
  detach(buffer: GPUBuffer): void {
    this.liveBytes -= buffer.size;
  }

  /** Destroys every pooled (not live) buffer, returning the memory to the driver. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.pooledBytes = 0;
  }

  private create(size: number, label: string): GPUBuffer {
    return this.device.createBuffer({ size, usage: STORAGE_USAGE, label });
  }

  private track(buffer: GPUBuffer): GPUBuffer {
    this.liveBytes += buffer.size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
    return buffer;
  }
}
