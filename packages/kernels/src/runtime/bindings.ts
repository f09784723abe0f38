// Bind groups and uniform data, reused when a dispatch recurs. A training step issues the same
// kernels on the same pooled buffers with the same parameters every step, and creating a bind group
// is the largest host cost of a dispatch in Dawn (≈15 µs, more than everything else together). So
// uniform parameters are stored by content (one slot per distinct parameter block) and a bind group
// is cached under the ids of its pipeline, buffers, uniform slot and texture views.

/** A compiled kernel: its pipeline, that pipeline's bind-group layout, and a small id for cache keys. */
export interface CompiledKernel {
  readonly id: number;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
}

export interface Bindings {
  inputs: readonly GPUBuffer[];
  outputs: readonly GPUBuffer[];
  params?: ArrayBuffer;
  resources?: readonly GPUBindingResource[];
}

/** Distinct parameter blocks kept at once; when full, the store is reused from the start. */
const UNIFORM_SLOTS = 4096;
/**
 * Cached bind groups, least recently used dropped first. Bounded because each is a live descriptor
 * set, and on lavapipe descriptor memory is a memory mapping: 16,384 of them pushed the test suite
 * past the kernel's limit of 65,530 mappings (a crash inside the driver). A decoder UNet training
 * step reuses about 1,450.
 */
const MAX_GROUPS = 4096;

export class BindingCache {
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  private readonly groups = new Map<string, GPUBindGroup>();
  private readonly slots = new Map<string, number>();
  private readonly store: GPUBuffer;
  /** Counters for benchmarks: bind groups created and reused, uniform blocks written. */
  readonly stats = { created: 0, reused: 0, uniformWrites: 0 };

  constructor(
    private readonly device: GPUDevice,
    private readonly slotBytes: number,
    /** Called before slots are reused: work encoded so far still reads their old contents. */
    private readonly submitPending: () => void,
    /** A recording's cache never reuses slots (its bind groups live on): `submitPending` must throw instead. */
    private readonly options: { reuseSlots: boolean } = { reuseSlots: true },
  ) {
    this.store = device.createBuffer({ size: UNIFORM_SLOTS * slotBytes, usage: 0x0040 /* UNIFORM */ | 0x0008 /* COPY_DST */, label: 'uniforms' });
  }

  /** A small number naming this object for as long as it lives (buffers, views, kernels). */
  id(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, (id = this.nextId++));
    return id;
  }

  bindGroup(kernel: CompiledKernel, name: string, b: Bindings): GPUBindGroup {
    let key = `${kernel.id}:`;
    for (const x of b.inputs) key += `${this.id(x)},`;
    key += '|';
    for (const x of b.outputs) key += `${this.id(x)},`;
    const uniform = b.params ? this.uniform(b.params) : null;
    if (uniform) key += `|u${uniform.offset}+${uniform.size}`;
    if (b.resources) {
      key += '|';
      // Views and samplers keep their identity; a buffer binding is a fresh object, bound afresh.
      for (const r of b.resources) key += 'buffer' in r ? `new${this.nextId++},` : `${this.id(r)},`;
    }
    const cached = this.groups.get(key);
    if (cached) {
      this.groups.delete(key); // re-inserted: Map order is the recency order
      this.groups.set(key, cached);
      this.stats.reused++;
      return cached;
    }
    const entries: GPUBindGroupEntry[] = [];
    for (const buffer of b.inputs) entries.push({ binding: entries.length, resource: { buffer } });
    for (const buffer of b.outputs) entries.push({ binding: entries.length, resource: { buffer } });
    if (uniform) entries.push({ binding: entries.length, resource: uniform });
    for (const resource of b.resources ?? []) entries.push({ binding: entries.length, resource });
    const group = this.device.createBindGroup({ layout: kernel.layout, entries, label: name });
    if (this.groups.size >= MAX_GROUPS) this.groups.delete(this.groups.keys().next().value!);
    this.groups.set(key, group);
    this.stats.created++;
    return group;
  }

  /** Drops every cached bind group (the driver frees them once nothing references them). */
  clear(): void {
    this.groups.clear();
  }

  /** Frees the uniform store (a cache made for one recording, when the recording goes). */
  destroy(): void {
    this.groups.clear();
    this.slots.clear();
    this.store.destroy();
  }

  /** The slot holding these parameter bytes, written once when they are first seen. */
  private uniform(params: ArrayBuffer): GPUBufferBinding {
    const size = Math.ceil(params.byteLength / 16) * 16;
    if (size > this.slotBytes) throw new Error(`uniform parameters of ${params.byteLength} bytes exceed the ${this.slotBytes}-byte slot`);
    const words = new Uint16Array(params, 0, params.byteLength >> 1);
    const key = String.fromCharCode.apply(null, words as unknown as number[]);
    let slot = this.slots.get(key);
    if (slot === undefined) {
      if (this.slots.size >= UNIFORM_SLOTS) {
        this.submitPending();
        if (!this.options.reuseSlots) throw new Error(`uniform store full (${UNIFORM_SLOTS} blocks)`);
        this.slots.clear();
      }
      slot = this.slots.size;
      this.slots.set(key, slot);
      const padded = new Uint8Array(size);
      padded.set(new Uint8Array(params));
      // Ordered before the submit of the batch being encoded, after every batch already submitted.
      this.device.queue.writeBuffer(this.store, slot * this.slotBytes, padded);
      this.stats.uniformWrites++;
    }
    return { buffer: this.store, offset: slot * this.slotBytes, size };
  }
}
