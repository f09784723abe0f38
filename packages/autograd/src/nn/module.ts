// Module: a tree of named parameters, buffers and submodules, with PyTorch's state_dict naming.
import { DeviceArray, fmt } from '@sd/kernels';
import { Tensor } from '../tensor.ts';

export interface LoadResult {
  missing: string[];
  unexpected: string[];
  mismatched: { name: string; expected: number[]; got: number[] }[];
}

/** A host-side state dict entry, as read from a checkpoint. */
export interface HostTensor {
  shape: number[];
  data: Float32Array | Int32Array;
}

export abstract class Module {
  training = true;
  private params = new Map<string, Tensor>();
  private buffers = new Map<string, Tensor>();
  private children = new Map<string, Module>();

  /** Registers a trainable parameter (kept alive outside every tidy scope). */
  protected param(name: string, t: Tensor): Tensor {
    this.params.set(name, t.keep().setRequiresGrad(true));
    return t;
  }

  /** Registers a non-trainable tensor saved in the state dict (e.g. running statistics). */
  protected buffer(name: string, t: Tensor): Tensor {
    this.buffers.set(name, t.keep());
    return t;
  }

  protected module<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [n, p] of this.params) yield [prefix + n, p];
    for (const [n, m] of this.children) yield* m.namedParameters(`${prefix}${n}.`);
  }

  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    for (const [n, b] of this.buffers) yield [prefix + n, b];
    for (const [n, m] of this.children) yield* m.namedBuffers(`${prefix}${n}.`);
  }

  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix.replace(/\.$/, ''), this];
    for (const [n, m] of this.children) yield* m.namedModules(`${prefix}${n}.`);
  }

  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }

  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Frees every parameter (and its gradient) and buffer: the module is unusable afterwards. */
  dispose(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
    for (const t of this.stateDict().values()) t.dispose();
  }

  /** Parameters and buffers by their PyTorch names (live tensors, not copies). */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Copies host tensors into the parameters and buffers. Lists missing, unexpected and mis-shaped
   * names; with `strict` (the default) any of those is an error and nothing is loaded.
   */
  loadStateDict(state: Map<string, HostTensor>, options: { strict?: boolean; source?: string } = {}): LoadResult {
    const strict = options.strict ?? true;
    const owners = new Map<string, { tensor: Tensor }>();
    for (const [path, m] of this.namedModules()) {
      const prefix = path ? `${path}.` : '';
      for (const [local, tensor] of m.params) owners.set(prefix + local, { tensor });
      for (const [local, tensor] of m.buffers) owners.set(prefix + local, { tensor });
    }
    const result: LoadResult = { missing: [], unexpected: [], mismatched: [] };
    for (const name of owners.keys()) if (!state.has(name)) result.missing.push(name);
    for (const [name, host] of state) {
      const owner = owners.get(name);
      if (!owner) result.unexpected.push(name);
      else if (fmt(owner.tensor.shape) !== fmt(host.shape)) {
        result.mismatched.push({ name, expected: [...owner.tensor.shape], got: host.shape });
      }
    }
    const problems = result.missing.length + result.unexpected.length + result.mismatched.length;
    if (strict && problems > 0) throw new Error(describeLoad(result, options.source));
    for (const [name, host] of state) {
      const owner = owners.get(name);
      if (!owner || fmt(owner.tensor.shape) !== fmt(host.shape)) continue;
      owner.tensor.assign(DeviceArray.from(host.data, host.shape, owner.tensor.dtype));
    }
    return result;
  }
}

export function describeLoad(r: LoadResult, source?: string): string {
  const parts: string[] = [];
  if (r.missing.length) parts.push(`missing ${r.missing.length}: ${r.missing.slice(0, 10).join(', ')}${r.missing.length > 10 ? ', …' : ''}`);
  if (r.unexpected.length) parts.push(`unexpected ${r.unexpected.length}: ${r.unexpected.slice(0, 10).join(', ')}${r.unexpected.length > 10 ? ', …' : ''}`);
  for (const m of r.mismatched.slice(0, 10)) parts.push(`${m.name}: expected shape ${fmt(m.expected)}, file has ${fmt(m.got)}`);
  return `loadStateDict${source ? ` (${source})` : ''}: ${parts.join('; ')}`;
}
