// EulerDiscreteScheduler: Euler's method on the probability-flow ODE dx/dσ = (x − x̂₀)/σ
// (Karras et al. 2022, Algorithm 1 without churn).
import type { Tensor } from '@sd/autograd';
import { applyAffine } from './linear.ts';
import { EULER_SPEC, SigmaScheduler, sigmaPrediction, type SigmaSchedulerConfig } from './sigma-scheduler.ts';
import type { SchedulerStepOptions } from './scheduler.ts';

export class EulerDiscreteScheduler extends SigmaScheduler {
  constructor(config: Readonly<Partial<SigmaSchedulerConfig>> = {}) {
    super('EulerDiscreteScheduler', EULER_SPEC, config);
  }

  /** x + (σ_next − σ)·(x − x̂₀)/σ = (σ_next/σ)·x + (1 − σ_next/σ)·x̂₀. */
  step(modelOutput: Tensor, timestep: number, sample: Tensor, _options: SchedulerStepOptions = {}): Tensor {
    const i = this.stepIndexOf(timestep);
    const sigma = this.sigmas[i];
    const ratio = this.sigmas[i + 1] / sigma;
    const x0 = sigmaPrediction(this.config.prediction_type, sigma);
    return applyAffine({ sample: ratio + (1 - ratio) * x0.sample, output: (1 - ratio) * x0.output }, sample, modelOutput);
  }
}
