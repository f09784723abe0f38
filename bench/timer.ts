// GPU-side timing of one repetition with timestamp queries: while armed, every compute pass the
// runtime begins writes a begin and an end timestamp (through `Runtime.passDescriptor`); the
// repetition's time is the span from the first begin to the last end.
import { rt } from '@sd/kernels';

const MAX_PASSES = 512;

export class PassTimer {
  private readonly querySet: GPUQuerySet;
  private readonly resolve: GPUBuffer;
  private next = 0;
  private overflow = false;

  private constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * MAX_PASSES, label: 'bench-timestamps' });
    this.resolve = device.createBuffer({ size: 16 * MAX_PASSES, usage: 0x0200 /* QUERY_RESOLVE */ | 0x0004 /* COPY_SRC */ });
  }

  /** A timer when the adapter has 'timestamp-query', else null (use the wall clock). */
  static create(): PassTimer | null {
    return rt().hasFeature('timestamp-query') ? new PassTimer(rt().device) : null;
  }

  /** Times `run` (one repetition) on the GPU; null when it began no compute pass or too many. */
  async time(run: () => void): Promise<number | null> {
    const runtime = rt();
    await runtime.sync(); // so the timed repetition starts in a fresh pass
    this.next = 0;
    this.overflow = false;
    runtime.passDescriptor = () => {
      if (this.next + 2 > 2 * MAX_PASSES) {
        this.overflow = true;
        return undefined;
      }
      const timestampWrites = { querySet: this.querySet, beginningOfPassWriteIndex: this.next, endOfPassWriteIndex: this.next + 1 };
      this.next += 2;
      return { timestampWrites, label: 'timed' };
    };
    try {
      run();
      runtime.flush();
    } finally {
      runtime.passDescriptor = null;
    }
    const count = this.next;
    await runtime.sync();
    if (count === 0 || this.overflow) return null;
    const readback = this.device.createBuffer({ size: count * 8, usage: 0x0001 /* MAP_READ */ | 0x0008 /* COPY_DST */ });
    const encoder = this.device.createCommandEncoder();
    encoder.resolveQuerySet(this.querySet, 0, count, this.resolve, 0);
    encoder.copyBufferToBuffer(this.resolve, 0, readback, 0, count * 8);
    this.device.queue.submit([encoder.finish()]);
    await rt().wait(readback.mapAsync(0x0001 /* READ */));
    const stamps = new BigUint64Array(readback.getMappedRange().slice(0));
    readback.unmap();
    readback.destroy();
    let first = stamps[0];
    let last = stamps[1];
    for (let i = 0; i < count; i += 2) {
      if (stamps[i] < first) first = stamps[i];
      if (stamps[i + 1] > last) last = stamps[i + 1];
    }
    return Number(last - first) / 1e6;
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolve.destroy();
  }
}
