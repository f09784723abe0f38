// DDIMScheduler (Song et al. 2021, eq. 12 and 16): x_{t'} = √ᾱ_{t'}·x̂₀ + √(1−ᾱ_{t'}−σ²)·ε̂ + σ·z,
// σ = η·√((1−ᾱ_{t'})/(1−ᾱ_t))·√(1−ᾱ_t/ᾱ_{t'}); η = 0 is deterministic.
import { add, mul, randn, type Tensor } from '@sd/autograd';
import type { ConfigSchema } from '../io/config-schema.ts';
import { CLIP_SPEC, commonSpec, type BaseSchedulerConfig } from './config.ts';
import { applyAffine, clampSymmetric, combine, vpPrediction } from './linear.ts';
import { DiffusionScheduler, type SchedulerStepOptions } from './scheduler.ts';
import { discreteSchedule } from './spacing.ts';

export interface DDIMConfig extends BaseSchedulerConfig {
  clip_sample: boolean;
  clip_sample_range: number;
  /** ᾱ before t = 0: 1 when true, else ᾱ_0 (Stable Diffusion uses false with steps_offset 1). */
  set_alpha_to_one: boolean;
}

export interface DDIMStepOptions extends SchedulerStepOptions {
  /** Re-derive ε̂ from the clipped x̂₀ (diffusers' use_clipped_model_output). */
  useClippedModelOutput?: boolean;
}

const DDIM_SPEC: ConfigSchema = {
  ...commonSpec('leading'),
  ...CLIP_SPEC,
  set_alpha_to_one: { kind: 'bool', default: true },
};

export class DDIMScheduler extends DiffusionScheduler<DDIMConfig> {
  /** ᾱ used as "previous" by the last step. */
  readonly finalAlphaCumprod: number;

  constructor(config: Readonly<Partial<DDIMConfig>> = {}) {
    super('DDIMScheduler', DDIM_SPEC, config);
    this.finalAlphaCumprod = this.config.set_alpha_to_one ? 1 : this.alphasCumprod[0];
  }

  setTimesteps(numInferenceSteps: number): void {
    this.timesteps = discreteSchedule(this.name, this.config, numInferenceSteps);
    this.numInferenceSteps = numInferenceSteps;
  }

  /** The timestep DDIM steps to: diffusers always subtracts T // n, whatever the spacing. */
  previousTimestep(timestep: number): number {
    return timestep - Math.floor(this.config.num_train_timesteps / this.numInferenceSteps!);
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, options: DDIMStepOptions = {}): Tensor {
    this.stepIndexOf(timestep);
    const eta = options.eta ?? 0; // η = 1 has DDPM's posterior variance
    if (!(eta >= 0)) throw new Error(`${this.name}.step: eta must be ≥ 0, got ${eta}`);
    const prev = this.previousTimestep(timestep);
    const ab = this.alphaCumprodAt(timestep, 'step');
    const abPrev = prev >= 0 ? this.alphasCumprod[prev] : this.finalAlphaCumprod;
    const std = eta * Math.sqrt(((1 - abPrev) / (1 - ab)) * (1 - ab / abPrev));
    const x0Weight = Math.sqrt(abPrev);
    const epsWeight = Math.sqrt(Math.max(0, 1 - abPrev - std * std));
    const pred = vpPrediction(this.config.prediction_type, ab);

    let out: Tensor;
    if (this.config.clip_sample) {
      const x0 = clampSymmetric(applyAffine(pred.x0, sample, modelOutput), this.config.clip_sample_range);
      const eps = options.useClippedModelOutput
        ? combine([
            [1 / Math.sqrt(1 - ab), sample],
            [-Math.sqrt(ab) / Math.sqrt(1 - ab), x0],
          ])
        : applyAffine(pred.eps, sample, modelOutput);
      out = combine([
        [x0Weight, x0],
        [epsWeight, eps],
      ]);
    } else {
      out = combine([
        [x0Weight * pred.x0.sample + epsWeight * pred.eps.sample, sample],
        [x0Weight * pred.x0.output + epsWeight * pred.eps.output, modelOutput],
      ]);
    }
    if (eta === 0) return out;
    return add(out, mul(randn(sample.shape, { generator: options.generator }), std));
  }
}
