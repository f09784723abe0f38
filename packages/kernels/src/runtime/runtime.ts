// The runtime: one device, a pipeline cache, a buffer pool, and a command batcher that encodes many
// dispatches per submit and flushes on readback or when the batch is full (uploads join the batch).
import { acquireDevice, type DeviceInfo } from './device.ts';
import { BindingCache, type CompiledKernel } from './bindings.ts';
import { Capture, Recording } from './recording.ts';
import { BufferPool } from './pool.ts';
import { profile } from './profile.ts';
import { awaitYielding } from './wait.ts';

/** A compute dispatch. Bindings are declared in the shader in this order: inputs, outputs, then params. */
export interface Dispatch {
  /** Kernel name used in errors and labels, e.g. "matmul". */
  name: string;
  /** Complete WGSL source with entry point `main`; also the pipeline-cache key. */
  code: string;
  /** Buffers the kernel only reads (`var<storage, read>`), bindings 0..n-1. */
  inputs: GPUBuffer[];
  /** Buffers the kernel writes (`var<storage, read_write>`), bindings n..n+m-1. */
  outputs: GPUBuffer[];
  /** Packed uniform parameters (`var<uniform>`), bound after the outputs when present. */
  params?: ArrayBuffer;
  /** Extra bindings (e.g. texture views) declared after the params (after the outputs when there are none). */
  resources?: GPUBindingResource[];
  workgroups: [number, number?, number?];
}

const BATCH_LIMIT = 96;
/**
 * Dispatches per submit while replaying a recording. Eager steps submit early so the GPU starts
 * while JavaScript builds the rest; a replay encodes so fast that each submit (and its error scope)
 * is a visible share of its host time.
 */
const REPLAY_BATCH_LIMIT = 512;
/**
 * Sizes of upload staging buffers: the first of a batch is small, each next one 4× larger up to
 * the cap (larger uploads get one of their own). A mapped buffer costs in proportion to its size
 * (lavapipe maps and clears it), and a replayed step uploads a few hundred bytes per batch.
 */
const STAGING_FIRST_BYTES = 4096;
const STAGING_ARENA_BYTES = 1 << 20;

// Fills a buffer with one 32-bit pattern (the poisoning of allocations in tests).
const FILL_KERNEL = `@group(0) @binding(0) var<storage, read_write> out: array<u32>;
struct Params { n: u32, bits: u32 }
@group(0) @binding(1) var<uniform> p: Params;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i < p.n) { out[i] = p.bits; }
}`;

export class Runtime {
  readonly pool: BufferPool;
  /** Compiled kernels by WGSL source. Generators return the same string object for the same configuration (see kernelSource), so a lookup compares pointers, not text. */
  private kernels = new Map<string, CompiledKernel>();
  private readonly bindings: BindingCache;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private batchKernels: string[] = [];
  private pendingErrors: Promise<string | null>[] = [];
  private lostReason: string | null = null;
  /** Tests set this: every allocation is filled with NaN so unwritten output elements show up. */
  poisonAllocations = false;
  /**
   * Staging for the uploads of the current batch: a few mapped buffers that uploads are appended
   * to, unmapped at submit and destroyed after it. (One buffer per upload kept thousands of
   * allocations in flight, and on lavapipe each is a memory mapping, a limited resource.)
   */
  private uploadStaging: Array<{ buffer: GPUBuffer; bytes: Uint8Array; used: number }> = [];
  /** Textures evicted from a cache while work that binds them may still be encoded: destroyed after the next submit. */
  private retired: GPUTexture[] = [];
  /** Counters for benchmarks and leak checks. */
  readonly stats = { dispatches: 0, submits: 0, pipelinesCompiled: 0 };
  /** Bind groups created vs reused and uniform blocks written (see BindingCache). */
  get bindingStats(): Readonly<{ created: number; reused: number; uniformWrites: number }> {
    return this.bindings.stats;
  }
  /** The step being recorded, if any (see recording.ts). */
  private capture: Capture | null = null;
  /** Inside a `perRun` callback, which may only upload. */
  private inHostCallback = false;
  /** Replaying a recording (submits less often, see REPLAY_BATCH_LIMIT). */
  private replaying = false;
  /** For each buffer and texture that live recordings use: those recordings. */
  private readonly bufferPins = new Map<GPUBuffer, Set<Recording>>();
  private readonly texturePins = new Map<GPUTexture, Set<Recording>>();
  /** Buffers freed and textures destroyed while recordings used them: let go when the last of those recordings is. */
  private readonly orphanBuffers = new Set<GPUBuffer>();
  private readonly orphanTextures = new Set<GPUTexture>();
  /** The texture of each view that kernels bind (registered by their creators), so a recording can keep them. */
  private readonly viewTextures = new WeakMap<GPUTextureView, GPUTexture>();
  private readonly uniformAlign: number;
  /** Benchmarks set this to add timestamp writes (or a label) to every compute pass the runtime begins. */
  passDescriptor: (() => GPUComputePassDescriptor | undefined) | null = null;
  /** Profilers set this: every dispatch gets a compute pass of its own (so per-pass timestamps time one kernel each). */
  passPerDispatch = false;

  private constructor(
    readonly device: GPUDevice,
    readonly info: DeviceInfo,
  ) {
    this.pool = new BufferPool(device, Math.min(info.limits.maxBufferSize, info.limits.maxStorageBufferBindingSize));
    this.uniformAlign = Math.max(256, info.limits.minUniformBufferOffsetAlignment ?? 256);
    this.bindings = new BindingCache(device, this.uniformAlign, () => this.flush());
    device.lost.then((info) => {
      this.lostReason = `${info.reason}: ${info.message}`;
    });
    device.addEventListener('uncapturederror', (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      this.pendingErrors.push(Promise.resolve(`uncaptured GPU error: ${error.message}`));
    });
  }

  static async create(): Promise<Runtime> {
    const { device, info } = await acquireDevice();
    return new Runtime(device, info);
  }

  hasFeature(name: string): boolean {
    return this.info.features.includes(name);
  }

  /** Allocates a pooled storage buffer; `label` names the op in errors about its size. */
  alloc(bytes: number, label: string): GPUBuffer {
    this.checkAlive();
    if (this.inHostCallback) throw new Error(`${label}: a perRun callback may only upload into existing buffers, not allocate (it runs again at each replay)`);
    const buffer = this.pool.acquire(Math.max(4, bytes), label);
    this.capture?.allocated.add(buffer);
    if (this.poisonAllocations) this.fillWords(buffer, buffer.size / 4, 0x7fc00000);
    return buffer;
  }

  /** Fills the first `words` 32-bit words of `buffer` with `bits`, in stream order. */
  fillWords(buffer: GPUBuffer, words: number, bits: number): void {
    const groups = Math.ceil(words / 256);
    const y = Math.ceil(groups / 65535);
    this.dispatch({
      name: 'fill',
      code: FILL_KERNEL,
      inputs: [],
      outputs: [buffer],
      params: new Uint32Array([words, bits >>> 0, 0, 0]).buffer,
      workgroups: [Math.ceil(groups / y), y],
    });
  }

  release(buffer: GPUBuffer): void {
    const pins = this.bufferPins.get(buffer);
    if (pins) {
      // Kept out of the pool until the recordings go, so they never write someone else's tensor.
      for (const r of pins) {
        r.invalid ??= `replay: a buffer the recorded step uses ("${buffer.label}", ${buffer.size} bytes) was freed after recording — a tensor the step reads or writes (an input, a parameter, a result) was disposed or replaced; record the step again`;
      }
      this.pool.detach(buffer);
      this.orphanBuffers.add(buffer);
      return;
    }
    this.pool.release(buffer);
  }

  /**
   * Destroys the pooled (released) buffers, returning their memory to the driver, e.g. after a
   * full-size model is freed. Encoded work may still use them, so it is submitted first.
   */
  trimPool(): void {
    this.flush();
    this.pool.trim();
    this.bindings.clear(); // their bind groups name destroyed buffers; dropping them frees descriptor sets
  }

  /**
   * Destroys a texture once the work that may bind it has been submitted: after the next submit, so
   * that a cache may evict a texture it handed out a moment ago for a dispatch not yet encoded.
   */
  retire(texture: GPUTexture): void {
    this.retired.push(texture);
  }

  /** Destroys a texture now, or when the last live recording that binds it goes. Flush first if unsubmitted work binds it. */
  destroyTexture(texture: GPUTexture): void {
    if (this.texturePins.has(texture)) this.orphanTextures.add(texture);
    else texture.destroy();
  }

  /** Names the texture behind a view that kernels bind, so that recordings which bind the view keep the texture alive. */
  registerView(view: GPUTextureView, texture: GPUTexture): void {
    this.viewTextures.set(view, texture);
  }

  /**
   * Copies host data into a buffer, in stream order: after everything already encoded (which might
   * still read the buffer's old contents). With nothing pending it is a plain queue write; otherwise
   * the data goes through a mapped staging buffer and a copy in the current batch, so an upload never
   * forces a submit.
   */
  upload(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.checkAlive();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const size = Math.ceil(bytes.byteLength / 4) * 4;
    if (size === 0) return;
    // Outside a perRun callback, the bytes are part of the recording: replays upload them again as they are.
    if (this.capture && !this.inHostCallback) this.capture.upload({ kind: 'upload', buffer, byteOffset, data: bytes.slice() });
    if (!this.encoder) {
      if (size === bytes.byteLength) this.device.queue.writeBuffer(buffer, byteOffset, bytes);
      else {
        const padded = new Uint8Array(size);
        padded.set(bytes);
        this.device.queue.writeBuffer(buffer, byteOffset, padded);
      }
      return;
    }
    let arena = this.uploadStaging.at(-1);
    if (!arena || arena.used + size > arena.bytes.byteLength) {
      const capacity = Math.max(size, Math.min(STAGING_ARENA_BYTES, STAGING_FIRST_BYTES * 4 ** this.uploadStaging.length));
      const staging = this.device.createBuffer({ size: capacity, usage: 0x0004 /* COPY_SRC */, mappedAtCreation: true, label: 'upload' });
      arena = { buffer: staging, bytes: new Uint8Array(staging.getMappedRange()), used: 0 };
      this.uploadStaging.push(arena);
    }
    arena.bytes.set(bytes, arena.used);
    this.endPass();
    // Copies may be encoded from a mapped buffer; it only has to be unmapped by the submit.
    this.encoder.copyBufferToBuffer(arena.buffer, arena.used, buffer, byteOffset, size);
    arena.used += size;
  }

  /** Encodes one compute dispatch into the current batch. */
  dispatch(d: Dispatch): void {
    this.checkAlive();
    const [x, y = 1, z = 1] = d.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const maxGroups = this.info.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxGroups || y > maxGroups || z > maxGroups) {
      throw new Error(`${d.name}: dispatch of [${x}, ${y}, ${z}] workgroups exceeds the device limit ${maxGroups} per dimension`);
    }
    for (const out of d.outputs) {
      let uses = 0;
      for (const b of d.inputs) if (b === out) uses++;
      for (const b of d.outputs) if (b === out) uses++;
      if (uses > 1) throw new Error(`${d.name}: an output buffer is also bound as another input or output of the same dispatch`);
    }
    if (this.inHostCallback) throw new Error(`${d.name}: a perRun callback may only upload, not dispatch kernels (it runs again at each replay)`);
    const kernel = this.kernel(d.name, d.code);
    const capture = this.capture;
    const bindGroup = (capture?.bindings ?? this.bindings).bindGroup(kernel, d.name, d);
    this.encodeDispatch(d.name, kernel.pipeline, bindGroup, x, y, z);
    if (capture) this.captureDispatch(capture, d, kernel, bindGroup, [x, y, z]);
  }

  private encodeDispatch(name: string, pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, x: number, y: number, z: number): void {
    const pass = this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (this.passPerDispatch) this.endPass();
    this.batchKernels.push(name);
    this.stats.dispatches++;
    if (this.batchKernels.length >= (this.replaying ? REPLAY_BATCH_LIMIT : BATCH_LIMIT)) this.flush();
  }

  private captureDispatch(capture: Capture, d: Dispatch, kernel: CompiledKernel, bindGroup: GPUBindGroup, workgroups: [number, number, number]): void {
    const buffers = [...d.inputs, ...d.outputs];
    let views = '';
    for (const r of d.resources ?? []) {
      if ('buffer' in r) {
        buffers.push(r.buffer);
        continue;
      }
      const texture = this.viewTextures.get(r as GPUTextureView);
      if (texture) capture.textures.add(texture);
      views += ` v${this.bindings.id(r)}`;
    }
    capture.dispatch({ kind: 'dispatch', name: d.name, pipeline: kernel.pipeline, bindGroup, workgroups }, kernel.id, buffers, d.params, views);
  }

  /** Encodes a buffer-to-buffer copy (outside any compute pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.checkAlive();
    if (bytes === 0) return;
    if (this.inHostCallback) throw new Error('copy: a perRun callback may only upload, not copy buffers (it runs again at each replay)');
    this.capture?.copy({ kind: 'copy', src, srcOffset, dst, dstOffset, bytes });
    const encoder = this.commandEncoder();
    this.endPass();
    encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Submits everything encoded so far. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    const kernels = summarize(this.batchKernels);
    for (const arena of this.uploadStaging) arena.buffer.unmap();
    this.device.queue.submit([this.encoder.finish()]);
    // Destroying after submit is safe: the submitted copies still complete.
    for (const arena of this.uploadStaging) arena.buffer.destroy();
    this.uploadStaging = [];
    for (const texture of this.retired) this.destroyTexture(texture);
    this.retired = [];
    const scope = this.device.popErrorScope().then((e) => (e ? `GPU validation error in a batch of [${kernels}]: ${e.message}` : null));
    this.pendingErrors.push(scope);
    this.encoder = null;
    this.batchKernels = [];
    this.stats.submits++;
  }

  /** Waits for the GPU to finish all submitted work and throws the first error it reported. */
  async sync(): Promise<void> {
    this.flush();
    await this.wait(this.device.queue.onSubmittedWorkDone());
    await this.throwPendingErrors();
  }

  /** Reads `bytes` bytes of `buffer` back to the host. */
  async read(buffer: GPUBuffer, bytes: number, byteOffset = 0): Promise<ArrayBuffer> {
    this.checkAlive();
    if (this.capture) {
      throw new Error(`record: a host read (${bytes} bytes of "${buffer.label}") inside a recorded step — a replay runs without the step's JavaScript, so the step cannot depend on values read back; read its results after it runs`);
    }
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.device.createBuffer({ size: Math.max(4, size), usage: 0x0001 /* MAP_READ */ | 0x0008, label: 'readback' });
    this.commandEncoder();
    this.endPass();
    if (size > 0) this.encoder!.copyBufferToBuffer(buffer, byteOffset, staging, 0, size);
    this.flush();
    try {
      await this.wait(staging.mapAsync(0x0001 /* READ */));
    } catch (e) {
      await this.throwPendingErrors();
      this.checkAlive();
      throw e;
    }
    const out = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    await this.throwPendingErrors();
    return out;
  }

  private async throwPendingErrors(): Promise<void> {
    const pending = this.pendingErrors;
    this.pendingErrors = [];
    const messages = (await this.wait(Promise.all(pending))).filter((m): m is string => m !== null);
    this.checkAlive();
    if (messages.length) throw new Error(messages.join('\n'));
  }

  // ---- Recorded steps (recording.ts) -------------------------------------------------------

  /** Whether a step is being recorded now. */
  get recording(): boolean {
    return this.capture !== null;
  }

  /** Starts noting every command, as the step runs for real; end with `endCapture` (or `endSignature`, or `abandonCapture`). */
  beginCapture(): void {
    this.checkAlive();
    if (this.capture) throw new Error('record: a step is already being recorded (recordings do not nest)');
    const full = () => {
      throw new Error('record: the step uses more distinct uniform parameter blocks than one recording holds');
    };
    this.capture = new Capture(new BindingCache(this.device, this.uniformAlign, full, { reuseSlots: false }), (o) => this.bindings.id(o));
  }

  /**
   * Ends the capture and makes it a Recording. `results` are the buffers of what the step returns:
   * any other buffer the step allocated and did not free is state created inside the step (an
   * optimizer's moments on its first update, a cache), which a replay would overwrite with its
   * initial value every time, so it is an error.
   */
  endCapture(results: readonly GPUBuffer[]): Recording {
    const capture = this.takeCapture();
    const keep = new Set(results);
    const leaked = [...capture.allocated].filter((b) => !keep.has(b) && !this.pool.isFree(b));
    if (leaked.length > 0) {
      this.dropCaptureBindings(capture);
      const names = [...new Set(leaked.map((b) => b.label))].slice(0, 6).join(', ');
      throw new Error(
        `record: the step allocated ${leaked.length} buffer(s) that outlive it and are not among its results (${names}): state created on a first call (optimizer moments, cached tables) must exist before recording — run the step once before recording it`,
      );
    }
    const owned = [...capture.buffers].filter((b) => this.pool.claim(b));
    const recording = new Recording(capture.commands, capture.signature, capture.buffers, owned, capture.textures, capture.bindings);
    for (const b of capture.buffers) pin(this.bufferPins, b, recording);
    for (const t of capture.textures) pin(this.texturePins, t, recording);
    return recording;
  }

  /** Ends the capture and returns only its signature (to compare a step with its recording); keeps nothing. */
  endSignature(): string[] {
    const capture = this.takeCapture();
    this.dropCaptureBindings(capture);
    return capture.signature;
  }

  /** Ends the capture without keeping anything (the step threw). */
  abandonCapture(): void {
    const capture = this.capture;
    this.capture = null;
    if (capture) this.dropCaptureBindings(capture);
  }

  /**
   * Runs host work that a recorded step must redo at every replay, at its place in the step:
   * advancing host state (a step count, a learning rate) and uploading what depends on it into
   * existing buffers. It may upload but not allocate, dispatch or copy. Outside a recording it just runs.
   * A callback that writes a temporary of the step must hold its GPUBuffer, not the array: the array
   * object is disposed when the step's scope ends, its buffer lives on in the recording.
   */
  perRun(fn: () => void): void {
    if (this.inHostCallback) throw new Error('perRun: callbacks do not nest');
    this.capture?.host(fn);
    this.runHostCallback(fn);
  }

  /** Encodes a recording's commands again (and runs its host callbacks), in stream order. */
  replay(recording: Recording): void {
    this.checkAlive();
    if (recording.disposed) throw new Error('replay: the recording was disposed');
    if (recording.invalid) throw new Error(recording.invalid);
    if (this.capture) throw new Error('replay: cannot replay a recording while recording a step');
    this.replaying = true;
    try {
      for (const c of recording.commands) {
        if (c.kind === 'dispatch') this.encodeDispatch(c.name, c.pipeline, c.bindGroup, ...c.workgroups);
        else if (c.kind === 'copy') this.copy(c.src, c.srcOffset, c.dst, c.dstOffset, c.bytes);
        else if (c.kind === 'upload') this.upload(c.buffer, c.data, c.byteOffset);
        else this.runHostCallback(c.run);
      }
    } finally {
      this.replaying = false;
    }
  }

  /** Lets go of a recording: its intermediates return to the pool, its pins are dropped. */
  disposeRecording(recording: Recording): void {
    if (recording.disposed) return;
    recording.disposed = true;
    this.flush(); // encoded replays still use its bind groups and buffers
    for (const b of recording.buffers) {
      if (unpin(this.bufferPins, b, recording) && this.orphanBuffers.delete(b)) this.pool.restore(b);
    }
    for (const b of recording.owned) this.pool.restore(b);
    for (const t of recording.textures) {
      if (unpin(this.texturePins, t, recording) && this.orphanTextures.delete(t)) t.destroy();
    }
    recording.bindings.destroy();
  }

  private takeCapture(): Capture {
    const capture = this.capture;
    if (!capture) throw new Error('record: no step is being recorded');
    this.capture = null;
    return capture;
  }

  private dropCaptureBindings(capture: Capture): void {
    this.flush(); // the step's encoded dispatches bind the capture's uniform store
    capture.bindings.destroy();
  }

  private runHostCallback(fn: () => void): void {
    this.inHostCallback = true;
    try {
      fn();
    } finally {
      this.inHostCallback = false;
    }
  }

  /** Drops the compiled kernels and the bind groups that use them; the next use of each recompiles. */
  forgetKernels(): void {
    this.flush();
    this.kernels.clear();
    this.bindings.clear();
  }

  /** Awaits a promise that Dawn settles, the way the adapter profile says (see wait.ts). */
  wait<T>(promise: Promise<T>): Promise<T> {
    return profile().host.wait === 'yield' ? awaitYielding(promise) : promise;
  }

  private checkAlive(): void {
    if (this.lostReason) throw new Error(`GPU device lost (${this.lostReason}); restart the process to get a new device`);
  }

  private kernel(name: string, code: string): CompiledKernel {
    const cached = this.kernels.get(code);
    if (cached) return cached;
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code, label: name });
    const pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: name });
    this.pendingErrors.push(
      this.device.popErrorScope().then(async (e) => {
        if (!e) return null;
        const info = await module.getCompilationInfo();
        const lines = code.split('\n');
        const details = info.messages
          .filter((m) => m.type === 'error')
          .map((m) => `  line ${m.lineNum}: ${m.message}\n    | ${lines[m.lineNum - 1]?.trim() ?? ''}`);
        return `WGSL compile error in kernel "${name}":\n${details.join('\n') || e.message}`;
      }),
    );
    const kernel = { id: this.bindings.id(pipeline), pipeline, layout: pipeline.getBindGroupLayout(0) };
    this.kernels.set(code, kernel);
    this.stats.pipelinesCompiled++;
    return kernel;
  }

  private commandEncoder(): GPUCommandEncoder {
    if (!this.encoder) {
      this.device.pushErrorScope('validation');
      this.encoder = this.device.createCommandEncoder({ label: 'sd-batch' });
    }
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.commandEncoder().beginComputePass(this.passDescriptor?.());
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }
}

function pin<T>(pins: Map<T, Set<Recording>>, resource: T, recording: Recording): void {
  let set = pins.get(resource);
  if (!set) pins.set(resource, (set = new Set()));
  set.add(recording);
}

/** Removes one recording's pin; true when no recording pins the resource any more. */
function unpin<T>(pins: Map<T, Set<Recording>>, resource: T, recording: Recording): boolean {
  const set = pins.get(resource);
  if (!set) return true;
  set.delete(recording);
  if (set.size > 0) return false;
  pins.delete(resource);
  return true;
}

function summarize(names: string[]): string {
  const unique = [...new Set(names)];
  return unique.length > 8 ? `${unique.slice(0, 8).join(', ')}, …` : unique.join(', ');
}
