// Optimizers over parameter tensors: AdamW (fused kernel, PyTorch semantics) and SGD with momentum.
// Updates happen in place on the parameters' buffers; gradient clipping needs no readback.
import * as K from '@sd/kernels';
import { DeviceArray } from '@sd/kernels';
import { Tensor } from '../tensor.ts';
import type { Schedule } from './schedule.ts';

export interface StepOptions {
  /** Clip the global gradient norm to this value (PyTorch's clip_grad_norm_). */
  maxGradNorm?: number;
  /** Multiply gradients by this first, e.g. 1/accumulationSteps. */
  gradScale?: number;
}

type HostState = Map<string, { shape: number[]; data: Float32Array | Int32Array }>;

export abstract class Optimizer {
  /** Number of completed steps (the next step is `step + 1`); the schedule is indexed by it. */
  step = 0;
  /** Multiplier of the base learning rate, by step. */
  schedule: Schedule = () => 1;
  /**
   * Updates applied to each parameter (PyTorch's per-parameter state['step']): a parameter that had
   * no gradient on some steps is behind the global count, which matters for Adam's bias correction
   * and SGD's first momentum step.
   */
  protected paramSteps: number[];
  /** Device copies of the step counters, refreshed by `stateDict()` (owned, like the moment buffers). */
  private stepTensors: { step: Tensor; paramSteps: Tensor } | null = null;

  constructor(
    readonly params: Tensor[],
    public lr: number,
  ) {
    for (const p of params) if (!p.requiresGrad) throw new Error(`${this.constructor.name}: parameter ${p} does not require grad`);
    this.paramSteps = params.map(() => 0);
  }

  /** The learning rate the next step will use. */
  currentLr(): number {
    return this.lr * this.schedule(this.step);
  }

  /** Applies one update from `.grad` (parameters without a gradient are skipped). */
  update(options: StepOptions = {}): void {
    const withGrad = this.params.map((p, i) => i).filter((i) => this.params[i].grad);
    this.beginUpdate(withGrad);
    let scale: DeviceArray | number = options.gradScale ?? 1;
    let clip: DeviceArray | null = null;
    if (options.maxGradNorm !== undefined && withGrad.length > 0) {
      // The norm is that of the scaled gradients; the clip coefficient then multiplies the scale.
      const squares = this.gradSquares(withGrad);
      const scaledSquares = scale === 1 ? squares : K.binary('mul', squares, (scale as number) ** 2);
      clip = K.gradClipScale(scaledSquares, options.maxGradNorm);
      if (scale !== 1) {
        const combined = K.binary('mul', clip, scale as number);
        clip.dispose();
        clip = combined;
      }
      if (scaledSquares !== squares) scaledSquares.dispose();
      squares.dispose();
      scale = clip;
    }
    this.applyAll(withGrad, scale);
    clip?.dispose();
  }

  /** Called first in every update with the parameters that have gradients (a hook for batched optimizers). */
  protected beginUpdate(_withGrad: number[]): void {}

  /** Σ of the squared gradients of these parameters, as a 1-element array. */
  protected gradSquares(withGrad: number[]): DeviceArray {
    return K.sumOfSquares(withGrad.map((i) => this.params[i].grad!.data));
  }

  /** Advances the step count and updates these parameters, one `apply` each. */
  protected applyAll(withGrad: number[], scale: DeviceArray | number): void {
    if (K.rt().recording) {
      throw new Error(`${this.constructor.name}: its update bakes the step count and learning rate into each kernel's parameters, so a recorded step would replay them unchanged; use AdamW in recorded steps`);
    }
    this.step++;
    const lr = this.lr * this.schedule(this.step - 1);
    for (const i of withGrad) {
      const p = this.params[i];
      this.apply(p, p.grad!.data, lr, scale, ++this.paramSteps[i]);
    }
  }

  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** One in-place update of `p`; `step` is this parameter's 1-based update count. */
  protected abstract apply(p: Tensor, grad: DeviceArray, lr: number, gradScale: DeviceArray | number, step: number): void;

  /** Optimizer state (step counters and per-parameter buffers) by name, for checkpoints. */
  abstract stateDict(): Map<string, Tensor>;
  abstract loadStateDict(state: HostState): void;

  /** Frees the optimizer's state buffers. */
  dispose(): void {
    this.stepTensors?.step.dispose();
    this.stepTensors?.paramSteps.dispose();
    this.stepTensors = null;
  }

  /** 'step' (global, [1] i32) and 'param_steps' ([n] i32), current as of this call. */
  protected stepState(): [string, Tensor][] {
    const step = DeviceArray.from([this.step], [1], 'i32');
    const paramSteps = DeviceArray.from(this.paramSteps, [this.params.length], 'i32');
    if (!this.stepTensors) this.stepTensors = { step: new Tensor(step).keep(), paramSteps: new Tensor(paramSteps).keep() };
    else {
      this.stepTensors.step.assign(step);
      this.stepTensors.paramSteps.assign(paramSteps);
    }
    return [
      ['step', this.stepTensors.step],
      ['param_steps', this.stepTensors.paramSteps],
    ];
  }

  /** Restores the step counters; checkpoints without 'param_steps' assume every parameter took every step. */
  protected loadStepState(state: HostState): void {
    const s = state.get('step');
    if (!s) throw new Error('optimizer state: "step" is missing');
    this.step = s.data[0];
    const per = state.get('param_steps');
    if (per && per.data.length !== this.params.length) {
      throw new Error(`optimizer state: "param_steps" has ${per.data.length} entries for ${this.params.length} parameters`);
    }
    this.paramSteps = this.params.map((_, i) => (per ? per.data[i] : this.step));
  }
}

function zerosLike(p: Tensor): Tensor {
  const a = DeviceArray.empty(p.shape, 'f32', 'optimizer_state');
  if (a.size) K.rt().fillWords(a.buffer, a.size, 0);
  return new Tensor(a).keep();
}

function loadInto(state: HostState, name: string, like: Tensor): Tensor {
  const host = state.get(name);
  if (!host) throw new Error(`optimizer state: "${name}" is missing`);
  if (K.fmt(host.shape) !== K.fmt(like.shape)) throw new Error(`optimizer state: "${name}" has shape ${K.fmt(host.shape)}, parameter has ${K.fmt(like.shape)}`);
  return new Tensor(DeviceArray.from(host.data, host.shape)).keep();
}

export interface AdamWConfig {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** Elements per flat buffer at most (default: the device's storage-binding limit / 4). */
  groupElements?: number;
}

/**
 * torch.optim.AdamW (decoupled weight decay, bias correction). Multi-tensor: the moments of all
 * parameters live end to end in flat buffers, and each update copies the gradients and the
 * parameters into flat buffers, so the gradient norm and the update of every parameter are one
 * dispatch each, bit-identical to the per-parameter kernels (see K.SegmentedTensors). Parameters
 * are grouped so that no flat buffer passes the device's storage-binding limit; a model that needs
 * several groups sums their gradient norms group by group (the same value, another rounding).
 * `stateDict()` returns copies of the moments refreshed by each call.
 */
export class AdamW extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private readonly groups: AdamWGroup[];
  /** Per-parameter copies of the moments handed out by stateDict() (owned, refreshed by each call). */
  private stateViews: Tensor[] = [];

  constructor(params: Tensor[], config: AdamWConfig = {}) {
    super(params, config.lr ?? 1e-3);
    [this.beta1, this.beta2] = config.betas ?? [0.9, 0.999];
    this.eps = config.eps ?? 1e-8;
    this.weightDecay = config.weightDecay ?? 0.01;
    const limits = K.rt().info.limits;
    const maxElements = config.groupElements ?? Math.floor(Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) / 4);
    this.groups = [];
    let members: number[] = [];
    let total = 0;
    params.forEach((p, i) => {
      if (members.length > 0 && total + p.size > maxElements) {
        this.groups.push(new AdamWGroup(members, params));
        [members, total] = [[], 0];
      }
      members.push(i);
      total += p.size;
    });
    if (members.length > 0) this.groups.push(new AdamWGroup(members, params));
  }

  protected override beginUpdate(withGrad: number[]): void {
    for (const g of this.groups) g.gather(withGrad, this.params);
  }

  protected override gradSquares(withGrad: number[]): DeviceArray {
    const parts = this.groups.map((g) => g.sumOfSquares(withGrad)).filter((x): x is DeviceArray => x !== null);
    let total = parts[0];
    for (const part of parts.slice(1)) {
      const next = K.binary('add', total, part);
      total.dispose();
      part.dispose();
      total = next;
    }
    return total;
  }

  protected override applyAll(withGrad: number[], gradScale: DeviceArray | number): void {
    for (const g of this.groups) g.prepare();
    // Host bookkeeping, redone at every replay of a recorded step: the step counts, the learning
    // rate of the schedule, and the scalars that the update kernel reads from them.
    K.rt().perRun(() => {
      this.step++;
      const lr = this.lr * this.schedule(this.step - 1);
      const steps = new Map(withGrad.map((i) => [i, ++this.paramSteps[i]]));
      for (const g of this.groups) g.writeScalars(withGrad, steps, { lr, beta1: this.beta1, beta2: this.beta2, weightDecay: this.weightDecay });
    });
    for (const g of this.groups) g.update(withGrad, { beta1: this.beta1, beta2: this.beta2, eps: this.eps, gradScale }, this.params);
  }

  protected apply(): void {
    throw new Error('AdamW updates all parameters at once (applyAll)');
  }

  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>(this.stepState());
    if (this.stateViews.length === 0) {
      this.stateViews = this.params.flatMap((p) => [0, 1].map(() => new Tensor(DeviceArray.empty(p.shape, 'f32', 'optimizer_state')).keep()));
    }
    for (const g of this.groups) g.copyMoments(this.stateViews);
    this.params.forEach((_, i) => {
      out.set(`${i}.exp_avg`, this.stateViews[2 * i]);
      out.set(`${i}.exp_avg_sq`, this.stateViews[2 * i + 1]);
    });
    return out;
  }

  loadStateDict(state: HostState): void {
    this.loadStepState(state);
    for (const g of this.groups) g.loadMoments(state, this.params);
  }

  override dispose(): void {
    super.dispose();
    for (const g of this.groups) g.dispose();
    for (const t of this.stateViews) t.dispose();
    this.stateViews = [];
  }
}

/** One flat set of AdamW buffers over the parameters `members` (indices into the optimizer's list). */
class AdamWGroup {
  private readonly layout: K.SegmentedTensors;
  /** Global parameter index → index within this group. */
  private readonly local = new Map<number, number>();
  /** exp_avg, exp_avg_sq, and the per-update copies of the parameters and gradients; allocated on first use. */
  private flat: { m: DeviceArray; v: DeviceArray; param: DeviceArray; grad: DeviceArray } | null = null;

  constructor(
    private readonly members: number[],
    params: Tensor[],
  ) {
    this.layout = new K.SegmentedTensors(members.map((i) => params[i].size));
    members.forEach((i, k) => this.local.set(i, k));
  }

  private buffers(): NonNullable<AdamWGroup['flat']> {
    if (!this.flat) {
      const zeros = () => {
        const a = DeviceArray.empty([this.layout.total], 'f32', 'optimizer_state');
        if (a.size) K.rt().fillWords(a.buffer, a.size, 0);
        return a;
      };
      const scratch = () => DeviceArray.empty([this.layout.total], 'f32', 'optimizer_scratch');
      this.flat = { m: zeros(), v: zeros(), param: scratch(), grad: scratch() };
    }
    return this.flat;
  }

  /** The members among `withGrad`, as global and local indices (in the optimizer's order). */
  private chosen(withGrad: number[]): { global: number[]; local: number[] } {
    const global = withGrad.filter((i) => this.local.has(i));
    return { global, local: global.map((i) => this.local.get(i)!) };
  }

  gather(withGrad: number[], params: Tensor[]): void {
    const { global, local } = this.chosen(withGrad);
    if (global.length === 0) return;
    const flat = this.buffers();
    const segments = this.layout.select(local);
    K.gatherSegments(global.map((i) => params[i].grad!.data), segments, flat.grad);
    K.gatherSegments(global.map((i) => params[i].data), segments, flat.param);
  }

  sumOfSquares(withGrad: number[]): DeviceArray | null {
    const { local } = this.chosen(withGrad);
    return local.length === 0 ? null : this.layout.sumOfSquares(this.buffers().grad, local);
  }

  /** Allocates the update's scalars (the per-run callback that writes them may not allocate). */
  prepare(): void {
    this.layout.prepareAdamw();
  }

  writeScalars(withGrad: number[], steps: Map<number, number>, options: { lr: number; beta1: number; beta2: number; weightDecay: number }): void {
    const { global, local } = this.chosen(withGrad);
    if (global.length > 0) this.layout.writeAdamwScalars(local, { ...options, steps: global.map((i) => steps.get(i)!) });
  }

  update(withGrad: number[], options: Omit<K.AdamWSegmentsOptions, 'steps' | 'lr'>, params: Tensor[]): void {
    const { global, local } = this.chosen(withGrad);
    if (global.length === 0) return;
    const flat = this.buffers();
    this.layout.adamwUpdate(flat.param, flat.grad, flat.m, flat.v, local, options);
    K.scatterSegments(flat.param, this.layout.select(local), global.map((i) => params[i].data));
  }

  /** Copies this group's moments into the per-parameter tensors `views` ([2i]: exp_avg, [2i+1]: exp_avg_sq). */
  copyMoments(views: Tensor[]): void {
    const flat = this.buffers();
    const all = this.members.map((_, k) => k);
    K.scatterSegments(flat.m, this.layout.select(all), this.members.map((i) => views[2 * i].data));
    K.scatterSegments(flat.v, this.layout.select(all), this.members.map((i) => views[2 * i + 1].data));
  }

  loadMoments(state: HostState, params: Tensor[]): void {
    const flat = this.buffers();
    this.members.forEach((i, k) => {
      const { offset } = this.layout.segments[k];
      for (const [name, into] of [[`${i}.exp_avg`, flat.m], [`${i}.exp_avg_sq`, flat.v]] as const) {
        const host = state.get(name);
        if (!host) throw new Error(`optimizer state: "${name}" is missing`);
        if (K.fmt(host.shape) !== K.fmt(params[i].shape)) throw new Error(`optimizer state: "${name}" has shape ${K.fmt(host.shape)}, parameter has ${K.fmt(params[i].shape)}`);
        if (!(host.data instanceof Float32Array)) throw new Error(`optimizer state: "${name}" must be f32`);
        K.rt().upload(into.buffer, host.data, offset * 4);
      }
    });
  }

  dispose(): void {
    if (this.flat) for (const a of Object.values(this.flat)) a.dispose();
    this.flat = null;
    this.layout.dispose();
  }
}

export interface SGDConfig {
  lr?: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/** torch.optim.SGD with optional momentum, dampening, nesterov and (coupled) weight decay. */
export class SGD extends Optimizer {
  private buffers = new Map<Tensor, Tensor>();

  constructor(
    params: Tensor[],
    private config: SGDConfig = {},
  ) {
    super(params, config.lr ?? 1e-2);
  }

  protected apply(p: Tensor, grad: DeviceArray, lr: number, gradScale: DeviceArray | number, step: number): void {
    const momentum = this.config.momentum ?? 0;
    if (momentum !== 0 && !this.buffers.has(p)) this.buffers.set(p, zerosLike(p));
    K.sgd(p.data, grad, this.buffers.get(p)?.data ?? null, {
      lr,
      step,
      momentum,
      dampening: this.config.dampening ?? 0,
      weightDecay: this.config.weightDecay ?? 0,
      nesterov: this.config.nesterov ?? false,
      gradScale,
    });
  }

  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>(this.stepState());
    this.params.forEach((p, i) => {
      const b = this.buffers.get(p);
      if (b) out.set(`${i}.momentum_buffer`, b);
    });
    return out;
  }

  loadStateDict(state: HostState): void {
    this.loadStepState(state);
    this.params.forEach((p, i) => {
      if (!state.has(`${i}.momentum_buffer`)) return;
      this.buffers.get(p)?.dispose();
      this.buffers.set(p, loadInto(state, `${i}.momentum_buffer`, p));
    });
  }

  override dispose(): void {
    super.dispose();
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
  }
}
