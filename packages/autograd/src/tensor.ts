// Tensor: a DeviceArray plus the autograd history (the op that made it and how to differentiate it).
import { DeviceArray, fmt, type DType, type Shape } from '@sd/kernels';
import { isGradEnabled } from './grad-mode.ts';
import { keep, track } from './scope.ts';

/** Maps the gradient of an op's output to gradients of its inputs (null where none is needed). */
export type BackwardFn = (grad: Tensor) => (Tensor | null)[];

/** The op that produced a tensor: its inputs and its gradient rule. */
export interface Node {
  op: string;
  inputs: Tensor[];
  backward: BackwardFn;
}

let nextId = 0;

export class Tensor {
  readonly id = nextId++;
  /** Accumulated gradient (leaf tensors with `requiresGrad`, or any tensor after `retainGrad()`). */
  grad: Tensor | null = null;
  /** The op that produced this tensor; null for leaves and for tensors made without grad mode. */
  node: Node | null = null;
  /** The op whose graph an earlier backward freed (so a second backward can say so), else null. */
  freedOp: string | null = null;
  retainsGrad = false;
  /** Kernel outputs saved for the backward rule (e.g. normalisation statistics), freed with this tensor. */
  private saved: DeviceArray[] = [];

  constructor(
    private array: DeviceArray,
    public requiresGrad = false,
  ) {
    track(this);
  }

  get data(): DeviceArray {
    return this.array;
  }
  get shape(): readonly number[] {
    return this.array.shape;
  }
  get dtype(): DType {
    return this.array.dtype;
  }
  get size(): number {
    return this.array.size;
  }
  get rank(): number {
    return this.array.shape.length;
  }
  get disposed(): boolean {
    return this.array.disposed;
  }
  get isLeaf(): boolean {
    return this.node === null;
  }

  /** Frees the GPU memory now (the gradient too). */
  dispose(): void {
    this.array.dispose();
    for (const s of this.saved) s.dispose();
    this.saved = [];
    this.grad?.dispose();
    this.grad = null;
    this.node = null;
  }

  /** Replaces the data in place (same shape); the old storage is freed. Used by loading and EMA swaps. */
  assign(array: DeviceArray): this {
    if (fmt(array.shape) !== fmt(this.shape)) throw new Error(`assign: shape ${fmt(array.shape)} does not match ${fmt(this.shape)}`);
    if (array !== this.array) this.array.dispose();
    this.array = array;
    return this;
  }

  /** Overwrites the data in place with host values (same buffer): how new inputs reach a recorded step. */
  write(data: ArrayLike<number>): this {
    this.array.write(data);
    return this;
  }

  /** Ties arrays the backward rule needs to this tensor's lifetime. */
  attach(...arrays: DeviceArray[]): this {
    this.saved.push(...arrays);
    return this;
  }

  /** Frees the arrays saved for the backward rule (once the graph through this tensor is gone). */
  releaseSaved(): void {
    for (const s of this.saved) s.dispose();
    this.saved = [];
  }

  /** Same data without history. The data is shared (a zero-copy view). */
  detach(): Tensor {
    return new Tensor(this.array.reshape(this.shape));
  }

  /** Keeps `.grad` on a non-leaf tensor after backward. */
  retainGrad(): this {
    this.retainsGrad = true;
    return this;
  }

  setRequiresGrad(value = true): this {
    if (value && this.dtype !== 'f32') throw new Error(`requiresGrad: only f32 tensors can require gradients (got ${this.dtype})`);
    this.requiresGrad = value;
    return this;
  }

  /** Excludes this tensor from every tidy scope: it lives until `dispose()` is called. */
  keep(): this {
    keep(this);
    return this;
  }

  async toArray(): Promise<number[]> {
    return this.array.toArray();
  }
  async read(): Promise<Float32Array | Int32Array | Uint32Array> {
    return this.array.read();
  }
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: tensor of shape ${fmt(this.shape)} has ${this.size} elements, not 1`);
    return (await this.array.read())[0];
  }

  toString(): string {
    return `Tensor(${fmt(this.shape)}, ${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

/** Wraps a kernel result; records `backward` when grad mode is on and any input needs a gradient. */
export function fromOp(op: string, data: DeviceArray, inputs: Tensor[], backward: BackwardFn): Tensor {
  const out = new Tensor(data);
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, inputs, backward };
  }
  return out;
}

export function assertShape(op: string, t: Tensor, shape: Shape): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${op}: expected shape ${fmt(shape)}, got ${fmt(t.shape)}`);
  }
}
