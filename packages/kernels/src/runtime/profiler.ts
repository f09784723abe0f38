// Per-kernel GPU time from timestamp queries: while profiling, every dispatch gets its own compute
// pass with begin/end timestamps; each submitted batch resolves its queries and reads them back.

export interface KernelTime {
  name: string;
  ms: number;
  count: number;
}

export class KernelProfiler {
  private readonly querySet: GPUQuerySet;
  private names: string[] = [];
  private pending: Promise<void>[] = [];
  private totals = new Map<string, { ms: number; count: number }>();

  constructor(
    private readonly device: GPUDevice,
    private readonly capacity: number,
  ) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: capacity * 2, label: 'kernel-profiler' });
  }

  /** True when the current batch has no room for another timed dispatch. */
  get full(): boolean {
    return this.names.length >= this.capacity;
  }

  /** The pass descriptor that times the next dispatch, named `name`. */
  passFor(name: string): GPUComputePassDescriptor {
    const i = this.names.length;
    this.names.push(name);
    return { timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } };
  }

  /** Encodes the resolve of this batch's queries; call `collect` after the batch is submitted. */
  resolve(encoder: GPUCommandEncoder): (() => void) | null {
    const n = this.names.length;
    if (n === 0) return null;
    const names = this.names;
    this.names = [];
    const bytes = n * 16;
    const resolved = this.device.createBuffer({ size: bytes, usage: 0x0200 /* QUERY_RESOLVE */ | 0x0004 /* COPY_SRC */ });
    const staging = this.device.createBuffer({ size: bytes, usage: 0x0001 /* MAP_READ */ | 0x0008 /* COPY_DST */ });
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
    return () => {
      this.pending.push(
        staging.mapAsync(0x0001).then(() => {
          const t = new BigUint64Array(staging.getMappedRange());
          names.forEach((name, i) => {
            const ms = Number(t[2 * i + 1] - t[2 * i]) / 1e6;
            const entry = this.totals.get(name) ?? { ms: 0, count: 0 };
            entry.ms += Math.max(0, ms);
            entry.count++;
            this.totals.set(name, entry);
          });
          staging.unmap();
          staging.destroy();
          resolved.destroy();
        }),
      );
    };
  }

  /** Waits for every batch's timestamps; kernels sorted by total time. */
  async report(): Promise<KernelTime[]> {
    await Promise.all(this.pending);
    this.pending = [];
    return [...this.totals].map(([name, v]) => ({ name, ...v })).sort((a, b) => b.ms - a.ms);
  }

  destroy(): void {
    this.querySet.destroy();
  }
}
