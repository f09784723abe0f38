// Recorded command streams: the WebGPU counterpart of CUDA Graphs. A training step whose shapes do
// not change issues the same dispatches on the same buffers every time; a Capture notes them while
// the step runs once for real, and the Recording made from it replays them without running the
// JavaScript that produced them (graph building, shape checks, kernel lookup, bind-group keys).
//
// What a replay redoes, and what it does not:
// - dispatches and buffer copies: encoded again, same pipelines, same bind groups (the recording
//   owns its bind groups and a uniform store of its own, so no cache eviction can touch them);
// - uploads made by the step: uploaded again with the bytes they had when recorded (constants);
// - host callbacks (`rt().perRun(fn)`): run again at their place, so host state that must advance
//   every step (an optimizer's step count, its learning rate, a batch) does, and uploads its data;
// - everything else the step's JavaScript did: not at all. So a step that must change between
//   runs in any other way is not recordable; `signature` lets a caller check (see `record`).
//
// Memory: the buffers a recording reads or writes stay its own for as long as it lives. The ones
// the step allocated and freed (its intermediates) are taken out of the pool; the ones that
// belong to live tensors (parameters, optimizer state, inputs, outputs) are pinned, and freeing
// one invalidates the recording (a replay would write a buffer that no longer holds that tensor).
import type { BindingCache } from './bindings.ts';

export type Command =
  | { kind: 'dispatch'; name: string; pipeline: GPUComputePipeline; bindGroup: GPUBindGroup; workgroups: [number, number, number] }
  | { kind: 'copy'; src: GPUBuffer; srcOffset: number; dst: GPUBuffer; dstOffset: number; bytes: number }
  | { kind: 'upload'; buffer: GPUBuffer; byteOffset: number; data: Uint8Array }
  | { kind: 'host'; run: () => void };

/** What one pass of a step issued, as it is noted: the commands, the resources they use, and a comparable signature. */
export class Capture {
  readonly commands: Command[] = [];
  /**
   * One line per command: kernel, pipeline, workgroups, buffers, uniform bytes, upload bytes. Buffers
   * the step allocated are named by order of first use (#0, #1, …), others by identity, so two
   * passes of an unchanged step have equal signatures although their intermediates differ.
   */
  readonly signature: string[] = [];
  /** Buffers allocated during the capture (the step's own). */
  readonly allocated = new Set<GPUBuffer>();
  /** Every buffer a command reads or writes. */
  readonly buffers = new Set<GPUBuffer>();
  readonly textures = new Set<GPUTexture>();
  private readonly names = new Map<GPUBuffer, string>();

  constructor(
    /** Bind groups for the captured dispatches, with a uniform store of the capture's own. */
    readonly bindings: BindingCache,
    private readonly idOf: (o: object) => number,
  ) {}

  dispatch(c: Extract<Command, { kind: 'dispatch' }>, pipelineId: number, buffers: readonly GPUBuffer[], params: ArrayBuffer | undefined, views: string): void {
    this.commands.push(c);
    for (const b of buffers) this.buffers.add(b);
    const uniform = params ? hex(new Uint8Array(params)) : '';
    this.signature.push(`${c.name} k${pipelineId} [${c.workgroups.join(',')}] ${buffers.map((b) => this.name(b)).join(',')} u${uniform}${views}`);
  }

  copy(c: Extract<Command, { kind: 'copy' }>): void {
    this.commands.push(c);
    this.buffers.add(c.src).add(c.dst);
    this.signature.push(`copy ${this.name(c.src)}+${c.srcOffset} → ${this.name(c.dst)}+${c.dstOffset} ${c.bytes}B`);
  }

  upload(c: Extract<Command, { kind: 'upload' }>): void {
    this.commands.push(c);
    this.buffers.add(c.buffer);
    this.signature.push(`upload ${this.name(c.buffer)}+${c.byteOffset} ${c.data.byteLength}B fnv${fnv1a(c.data)}`);
  }

  host(run: () => void): void {
    this.commands.push({ kind: 'host', run });
    this.signature.push('host callback');
  }

  private name(b: GPUBuffer): string {
    let name = this.names.get(b);
    if (name === undefined) {
      name = this.allocated.has(b) ? `#${this.names.size}` : `buffer${this.idOf(b)}`;
      this.names.set(b, name);
    }
    return name;
  }
}

/** A captured step, ready to replay (see `Runtime.replay`); its resources stay its own until `Runtime.disposeRecording`. */
export class Recording {
  /** Set when something the recording uses was freed; replaying then throws this message. */
  invalid: string | null = null;
  disposed = false;

  constructor(
    readonly commands: readonly Command[],
    readonly signature: readonly string[],
    /** Every buffer the commands use (pinned while the recording lives). */
    readonly buffers: ReadonlySet<GPUBuffer>,
    /** The step's intermediates, taken out of the pool: returned to it on dispose. */
    readonly owned: readonly GPUBuffer[],
    readonly textures: ReadonlySet<GPUTexture>,
    readonly bindings: BindingCache,
  ) {}

  get dispatches(): number {
    let n = 0;
    for (const c of this.commands) if (c.kind === 'dispatch') n++;
    return n;
  }

  /** The kernel of each dispatch, in order. */
  kernelNames(): string[] {
    return this.commands.flatMap((c) => (c.kind === 'dispatch' ? [c.name] : []));
  }

  /** What one replay issues: commands by kind, and dispatches by kernel name (most first). */
  summary(): RecordingSummary {
    const byKernel = new Map<string, number>();
    const counts = { dispatch: 0, copy: 0, upload: 0, host: 0 };
    for (const c of this.commands) {
      counts[c.kind]++;
      if (c.kind === 'dispatch') byKernel.set(c.name, (byKernel.get(c.name) ?? 0) + 1);
    }
    return { dispatches: counts.dispatch, copies: counts.copy, uploads: counts.upload, hostCallbacks: counts.host, byKernel: [...byKernel].sort((a, b) => b[1] - a[1]) };
  }
}

export interface RecordingSummary {
  dispatches: number;
  copies: number;
  uploads: number;
  hostCallbacks: number;
  byKernel: Array<[name: string, count: number]>;
}

/** The first line where two signatures differ, described for an error message; null when equal. */
export function firstDifference(recorded: readonly string[], now: readonly string[]): string | null {
  const n = Math.max(recorded.length, now.length);
  for (let i = 0; i < n; i++) {
    if (recorded[i] !== now[i]) {
      return `command ${i} of ${recorded.length} recorded: ${recorded[i] ?? '(none: the step now issues more commands)'}; now: ${now[i] ?? '(none: the step now issues fewer commands)'}`;
    }
  }
  return null;
}

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

function fnv1a(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  return (h >>> 0).toString(16);
}
