// What every scheduler shares: the config, β/ᾱ in float64, and the forward process q(x_t | x₀).
import { add, gather, mul, reshape, tensor, Tensor, type Generator } from '@sd/autograd';
import { betasFor, cumulativeAlphas } from './betas.ts';
import type { ConfigSchema } from '../io/config-schema.ts';
import { parseSchedulerConfig, readSchedulerConfig, type BaseSchedulerConfig } from './config.ts';

export interface SchedulerStepOptions {
  /** Draws the noise of stochastic steps (the autograd default generator when absent). */
  generator?: Generator;
  /** DDIM's η (0 by default: deterministic); the other schedulers ignore it. */
  eta?: number;
}

export interface FromConfigOptions {
  /** Called once per ignored config key (the warnings are also on `scheduler.warnings`). */
  warn?: (message: string) => void;
}

export abstract class DiffusionScheduler<C extends BaseSchedulerConfig = BaseSchedulerConfig> {
  readonly config: Readonly<C>;
  /** Config keys this scheduler ignored, one line each. */
  readonly warnings: readonly string[];
  readonly betas: Float64Array;
  /** ᾱ_t for t = 0 … num_train_timesteps−1. */
  readonly alphasCumprod: Float64Array;
  /** The timesteps the model is called at, in sampling order (descending), after setTimesteps. */
  timesteps: number[] = [];
  numInferenceSteps: number | null = null;

  protected constructor(
    readonly name: string,
    spec: ConfigSchema,
    config: Readonly<Partial<C>> | Readonly<Record<string, unknown>>,
  ) {
    const resolved = readSchedulerConfig<C>(config as Record<string, unknown>, spec, name);
    this.config = Object.freeze(resolved.config);
    this.warnings = Object.freeze(resolved.warnings);
    const c = this.config;
    this.betas = c.trained_betas ? Float64Array.from(c.trained_betas) : betasFor(c.beta_schedule, c.num_train_timesteps, c.beta_start, c.beta_end);
    this.alphasCumprod = cumulativeAlphas(this.betas);
  }

  /**
   * Builds a scheduler from `scheduler_config.json` (its text or the parsed object). Bad types and
   * unsupported values throw, naming the key; keys this scheduler does not know are ignored and
   * reported in `warnings`.
   */
  static fromConfig<S extends DiffusionScheduler<BaseSchedulerConfig>>(
    this: new (config: Readonly<Record<string, unknown>>) => S,
    json: Readonly<Record<string, unknown>> | string,
    options: FromConfigOptions = {},
  ): S {
    const scheduler = new this(typeof json === 'string' ? parseSchedulerConfig(json) : json);
    if (options.warn) for (const w of scheduler.warnings) options.warn(w);
    return scheduler;
  }

  /** The standard deviation of x_T: sampling starts from initNoiseSigma·N(0, I). */
  get initNoiseSigma(): number {
    return 1;
  }

  /** Chooses `numInferenceSteps` timesteps (diffusers' set_timesteps) and resets any sampler state. */
  abstract setTimesteps(numInferenceSteps: number): void;

  /** Forgets any multistep history (and frees its tensors), so the next step starts a new trajectory. */
  reset(): void {}

  /** The model's input at timestep t; the identity (the same tensor) except for σ-parameterised samplers. */
  scaleModelInput(sample: Tensor, _timestep: number): Tensor {
    return sample;
  }

  /** One reverse step: the sample at the timestep after `timestep` in `timesteps`. */
  abstract step(modelOutput: Tensor, timestep: number, sample: Tensor, options?: SchedulerStepOptions): Tensor;

  /**
   * q(x_t | x₀) for training: √ᾱ_t·x₀ + √(1−ᾱ_t)·ε with one integer timestep per sample of [B, …]
   * (host numbers, or an i32 [B] tensor for a recorded step).
   */
  addNoise(x0: Tensor, noise: Tensor, timesteps: readonly number[] | Tensor): Tensor {
    const at = (f: (alphaBar: number) => number) => this.perTimestep('addNoise', x0, timesteps, f);
    return add(mul(x0, at(Math.sqrt)), mul(noise, at((a) => Math.sqrt(1 - a))));
  }

  /** The v-prediction target v = √ᾱ_t·ε − √(1−ᾱ_t)·x₀, one integer timestep per sample (as addNoise). */
  getVelocity(x0: Tensor, noise: Tensor, timesteps: readonly number[] | Tensor): Tensor {
    const at = (f: (alphaBar: number) => number) => this.perTimestep('getVelocity', x0, timesteps, f);
    return add(mul(noise, at(Math.sqrt)), mul(x0, at((a) => -Math.sqrt(1 - a))));
  }

  /** A [B, 1, 1, …] column of f(ᾱ_t), one per sample of x; device timesteps gather from a table of f over all training timesteps (the same f32 values). */
  private perTimestep(where: string, x: Tensor, timesteps: readonly number[] | Tensor, f: (alphaBar: number) => number): Tensor {
    if (timesteps instanceof Tensor) {
      if (timesteps.dtype !== 'i32' || timesteps.size !== x.shape[0]) throw new Error(`${this.name}.${where}: timesteps ${timesteps} for a batch of shape [${x.shape.join(', ')}] (expected i32 [${x.shape[0]}])`);
      const table = tensor(Float32Array.from(this.alphasCumprod, f), [this.alphasCumprod.length]);
      return reshape(gather(table, timesteps, 0), [timesteps.size, ...x.shape.slice(1).map(() => 1)]);
    }
    return this.perSample(x, this.alphasAt(where, x, timesteps).map(f));
  }

  /** ᾱ at an integer training timestep. */
  protected alphaCumprodAt(t: number, where: string): number {
    if (!Number.isInteger(t) || t < 0 || t >= this.alphasCumprod.length) {
      throw new Error(`${this.name}.${where}: timestep ${t} is not an integer in [0, ${this.alphasCumprod.length - 1}]`);
    }
    return this.alphasCumprod[t];
  }

  /** Where `timestep` is in `timesteps` (steps must use the values setTimesteps chose). */
  protected stepIndexOf(timestep: number): number {
    if (this.numInferenceSteps === null) throw new Error(`${this.name}.step: call setTimesteps before stepping`);
    const i = this.timesteps.indexOf(timestep);
    if (i < 0) throw new Error(`${this.name}.step: timestep ${timestep} is not one of this scheduler's timesteps`);
    return i;
  }

  protected checkBatch(where: string, x: Tensor, timesteps: readonly number[]): void {
    if (x.shape.length === 0 || x.shape[0] !== timesteps.length) {
      throw new Error(`${this.name}.${where}: ${timesteps.length} timesteps for a batch of shape [${x.shape.join(', ')}]`);
    }
  }

  /** A [B, 1, 1, …] column of per-sample coefficients that broadcasts against x. */
  protected perSample(x: Tensor, values: readonly number[]): Tensor {
    return tensor(Float32Array.from(values), [values.length, ...x.shape.slice(1).map(() => 1)]);
  }

  private alphasAt(where: string, x0: Tensor, timesteps: readonly number[]): number[] {
    this.checkBatch(where, x0, timesteps);
    return timesteps.map((t) => this.alphaCumprodAt(t, where));
  }
}
