// The σ-parameterised (Karras et al. 2022 / k-diffusion) schedulers: the sample is x = x₀ + σ·ε with
// σ_t = √((1−ᾱ_t)/ᾱ_t), i.e. the variance-preserving x_t times √(σ²+1), so the model sees
// x/√(σ²+1) (scaleModelInput). Between training timesteps σ is interpolated linearly, as diffusers does.
import { add, mul, type Tensor } from '@sd/autograd';
import { only, type ConfigSchema } from '../io/config-schema.ts';
import { SIGMA_SPEC, commonSpec, type BaseSchedulerConfig, type PredictionType } from './config.ts';
import { interpUnitGrid } from './numpy.ts';
import type { Affine } from './linear.ts';
import { DiffusionScheduler } from './scheduler.ts';
import { checkStepCount, checkTimesteps, eulerTimesteps } from './spacing.ts';

export type SigmaSchedulerConfig = BaseSchedulerConfig;

/** EulerDiscreteScheduler's options that only their defaults are implemented for. */
export const EULER_SPEC: ConfigSchema = {
  ...commonSpec('linspace'),
  ...SIGMA_SPEC,
  interpolation_type: { kind: 'string', default: 'linear', supported: only('linear') },
  timestep_type: { kind: 'string', default: 'discrete', supported: only('discrete') },
  final_sigmas_type: { kind: 'string', default: 'zero', supported: only('zero') },
  sigma_min: { kind: 'number', default: null, nullable: true, supported: only(null) },
  sigma_max: { kind: 'number', default: null, nullable: true, supported: only(null) },
};

export const EULER_ANCESTRAL_SPEC: ConfigSchema = commonSpec('linspace');

/** x̂₀ as an affine function of (x, output) for x = x₀ + σ·ε. */
export function sigmaPrediction(type: PredictionType, sigma: number): Affine {
  switch (type) {
    case 'epsilon':
      return { sample: 1, output: -sigma };
    case 'sample':
      return { sample: 0, output: 1 };
    case 'v_prediction': // the model saw x_t = x/√(σ²+1), for which x̂₀ = √ᾱ·x_t − √(1−ᾱ)·v
      return { sample: 1 / (sigma * sigma + 1), output: -sigma / Math.sqrt(sigma * sigma + 1) };
  }
}

export abstract class SigmaScheduler extends DiffusionScheduler<SigmaSchedulerConfig> {
  /** σ at every training timestep. */
  readonly trainSigmas: Float64Array;
  /** σ at each of `timesteps`, then the final σ = 0. */
  sigmas: number[];

  protected constructor(name: string, spec: ConfigSchema, config: Readonly<Partial<SigmaSchedulerConfig>>) {
    super(name, spec, config);
    this.trainSigmas = this.alphasCumprod.map((a) => Math.sqrt((1 - a) / a));
    // Before setTimesteps diffusers holds every training σ, which is what initNoiseSigma reads then.
    this.sigmas = [...Array.from(this.trainSigmas).reverse(), 0];
  }

  /**
   * diffusers: σ_max for 'linspace' and 'trailing' but √(σ_max²+1) for 'leading' (for SD's σ_max ≈ 14.6
   * the two differ by 0.2%).
   */
  override get initNoiseSigma(): number {
    const max = Math.max(...this.sigmas);
    return this.config.timestep_spacing === 'leading' ? Math.sqrt(max * max + 1) : max;
  }

  /** σ at a (possibly fractional) training timestep, linearly interpolated. */
  sigmaAt(timestep: number): number {
    return interpUnitGrid(timestep, this.trainSigmas);
  }

  setTimesteps(numInferenceSteps: number): void {
    const T = this.config.num_train_timesteps;
    checkStepCount(this.name, numInferenceSteps, T);
    const ts = eulerTimesteps(this.config.timestep_spacing, T, numInferenceSteps, this.config.steps_offset);
    this.timesteps = checkTimesteps(this.name, ts, T, numInferenceSteps);
    this.sigmas = [...this.timesteps.map((t) => this.sigmaAt(t)), 0];
    this.numInferenceSteps = numInferenceSteps;
  }

  /** x/√(σ²+1): the variance-preserving sample the model was trained on. */
  override scaleModelInput(sample: Tensor, timestep: number): Tensor {
    const sigma = this.sigmas[this.stepIndexOf(timestep)];
    return mul(sample, 1 / Math.sqrt(sigma * sigma + 1));
  }

  /** In this parameterisation (diffusers' EulerDiscreteScheduler.add_noise): x₀ + σ_t·ε per sample, for img2img. */
  override addNoise(x0: Tensor, noise: Tensor, timesteps: readonly number[]): Tensor {
    this.checkBatch('addNoise', x0, timesteps);
    const T = this.config.num_train_timesteps;
    for (const t of timesteps) if (!(t >= 0 && t <= T - 1)) throw new Error(`${this.name}.addNoise: timestep ${t} outside [0, ${T - 1}]`);
    return add(x0, mul(noise, this.perSample(x0, timesteps.map((t) => this.sigmaAt(t)))));
  }
}
