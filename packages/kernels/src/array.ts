// DeviceArray: a contiguous, typed n-d array in a pooled GPU buffer, with deterministic release.
import { rt } from './runtime/current.ts';
import { fmt, sizeOf, type Shape } from './shape.ts';

export type DType = 'f32' | 'i32' | 'u32';
export type HostArray = Float32Array | Int32Array | Uint32Array;

interface HostArrayConstructor {
  new (n: number): HostArray;
  new (b: ArrayBuffer): HostArray;
  from(values: ArrayLike<number>): HostArray;
}

const HOST: Record<DType, HostArrayConstructor> = {
  f32: Float32Array,
  i32: Int32Array,
  u32: Uint32Array,
};

/** Reference-counted GPU storage; shared by reshaped views, returned to the pool at zero. */
class Storage {
  refs = 1;
  constructor(readonly buffer: GPUBuffer) {}
}

let liveArrays = 0;

export class DeviceArray {
  readonly size: number;
  private storage: Storage | null;

  private constructor(
    readonly shape: readonly number[],
    readonly dtype: DType,
    storage: Storage,
  ) {
    this.size = sizeOf(shape);
    this.storage = storage;
    liveArrays++;
  }

  /** Number of arrays not yet disposed (for leak checks). */
  static get live(): number {
    return liveArrays;
  }

  /** An uninitialised array (its contents are whatever the pooled buffer held). */
  static empty(shape: Shape, dtype: DType = 'f32', label = 'array'): DeviceArray {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`${label}: invalid shape ${fmt(shape)}`);
    }
    const buffer = rt().alloc(sizeOf(shape) * 4, label);
    return new DeviceArray([...shape], dtype, new Storage(buffer));
  }

  static from(data: ArrayLike<number>, shape: Shape, dtype: DType = 'f32'): DeviceArray {
    if (data.length !== sizeOf(shape)) {
      throw new Error(`DeviceArray.from: ${data.length} values do not fill shape ${fmt(shape)} (${sizeOf(shape)} elements)`);
    }
    const out = DeviceArray.empty(shape, dtype, 'upload');
    const host = data instanceof HOST[dtype] ? (data as HostArray) : HOST[dtype].from(data as ArrayLike<number>);
    if (host.length > 0) rt().upload(out.buffer, host);
    return out;
  }

  static scalar(value: number, dtype: DType = 'f32'): DeviceArray {
    return DeviceArray.from([value], [], dtype);
  }

  get buffer(): GPUBuffer {
    if (!this.storage) throw new Error(`use of a disposed array of shape ${fmt(this.shape)}`);
    return this.storage.buffer;
  }

  get rank(): number {
    return this.shape.length;
  }

  get disposed(): boolean {
    return this.storage === null;
  }

  /** Same data, new shape (no copy); the storage is shared until both are disposed. */
  reshape(shape: Shape): DeviceArray {
    if (sizeOf(shape) !== this.size) throw new Error(`reshape: cannot view ${fmt(this.shape)} as ${fmt(shape)}`);
    const storage = this.storage;
    if (!storage) throw new Error(`reshape of a disposed array of shape ${fmt(this.shape)}`);
    storage.refs++;
    return new DeviceArray([...shape], this.dtype, storage);
  }

  dispose(): void {
    const storage = this.storage;
    if (!storage) return;
    this.storage = null;
    liveArrays--;
    if (--storage.refs === 0) rt().release(storage.buffer);
  }

  /** Overwrites the contents in place, in stream order (the buffer stays the same: what a recorded step reads as its input). */
  write(data: ArrayLike<number>): void {
    if (data.length !== this.size) throw new Error(`write: ${data.length} values for an array of shape ${fmt(this.shape)} (${this.size} elements)`);
    const host = data instanceof HOST[this.dtype] ? (data as HostArray) : HOST[this.dtype].from(data as ArrayLike<number>);
    if (host.length > 0) rt().upload(this.buffer, host);
  }

  async read(): Promise<HostArray> {
    const bytes = await rt().read(this.buffer, this.size * 4);
    return new HOST[this.dtype](bytes);
  }

  async toArray(): Promise<number[]> {
    return Array.from(await this.read());
  }
}
