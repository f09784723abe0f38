// DDPMScheduler: ancestral sampling from the posterior q(x_{t'} | x_t, x̂₀) (Ho et al. 2020, eq. 6–7),
// where t' is the next timestep of the (possibly respaced) schedule.
import { add, mul, randn, type Tensor } from '@sd/autograd';
import { only, type ConfigSchema } from '../io/config-schema.ts';
import { CLIP_SPEC, commonSpec, type BaseSchedulerConfig } from './config.ts';
import { applyAffine, clampSymmetric, combine, vpPrediction } from './linear.ts';
import { DiffusionScheduler, type SchedulerStepOptions } from './scheduler.ts';
import { discreteSchedule } from './spacing.ts';

export interface DDPMConfig extends BaseSchedulerConfig {
  /** Posterior variance: β̃ (fixed_small, default) or β (fixed_large). */
  variance_type: 'fixed_small' | 'fixed_large';
  clip_sample: boolean;
  clip_sample_range: number;
}

const DDPM_SPEC: ConfigSchema = {
  ...commonSpec('leading'),
  ...CLIP_SPEC,
  variance_type: { kind: 'string', default: 'fixed_small', supported: only('fixed_small', 'fixed_large') },
};

export class DDPMScheduler extends DiffusionScheduler<DDPMConfig> {
  constructor(config: Readonly<Partial<DDPMConfig>> = {}) {
    super('DDPMScheduler', DDPM_SPEC, config);
    // Like diffusers, stepping before setTimesteps walks every training timestep.
    this.timesteps = Array.from({ length: this.config.num_train_timesteps }, (_, i) => this.config.num_train_timesteps - 1 - i);
  }

  setTimesteps(numInferenceSteps: number): void {
    this.timesteps = discreteSchedule(this.name, this.config, numInferenceSteps);
    this.numInferenceSteps = numInferenceSteps;
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, options: SchedulerStepOptions = {}): Tensor {
    const i = this.timesteps.indexOf(timestep);
    if (i < 0) throw new Error(`${this.name}.step: timestep ${timestep} is not one of this scheduler's timesteps`);
    // diffusers (≥0.26) takes the previous timestep from the list; −1 means "before t = 0" with ᾱ = 1.
    const prev = i + 1 < this.timesteps.length ? this.timesteps[i + 1] : -1;
    const ab = this.alphaCumprodAt(timestep, 'step');
    const abPrev = prev >= 0 ? this.alphasCumprod[prev] : 1;
    const beta = 1 - ab / abPrev; // the β of the respaced chain between the two timesteps
    const x0Weight = (Math.sqrt(abPrev) * beta) / (1 - ab);
    const xtWeight = (Math.sqrt(ab / abPrev) * (1 - abPrev)) / (1 - ab);
    const pred = vpPrediction(this.config.prediction_type, ab);

    let mean: Tensor;
    if (this.config.clip_sample) {
      const x0 = clampSymmetric(applyAffine(pred.x0, sample, modelOutput), this.config.clip_sample_range);
      mean = combine([
        [x0Weight, x0],
        [xtWeight, sample],
      ]);
    } else {
      mean = combine([
        [x0Weight * pred.x0.sample + xtWeight, sample],
        [x0Weight * pred.x0.output, modelOutput],
      ]);
    }
    if (timestep === 0) return mean; // diffusers adds noise whenever t > 0
    const variance = this.config.variance_type === 'fixed_large' ? beta : Math.max(((1 - abPrev) / (1 - ab)) * beta, 1e-20);
    return add(mean, mul(randn(sample.shape, { generator: options.generator }), Math.sqrt(variance)));
  }
}
