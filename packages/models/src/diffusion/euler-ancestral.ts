// EulerAncestralDiscreteScheduler: an Euler step down to σ_down, then fresh noise of std σ_up, with
// σ_up² = σ_next²(σ² − σ_next²)/σ² and σ_down² = σ_next² − σ_up² (k-diffusion's get_ancestral_step, η = 1).
import { add, mul, randn, type Tensor } from '@sd/autograd';
import { applyAffine } from './linear.ts';
import { EULER_ANCESTRAL_SPEC, SigmaScheduler, sigmaPrediction, type SigmaSchedulerConfig } from './sigma-scheduler.ts';
import type { SchedulerStepOptions } from './scheduler.ts';

export class EulerAncestralDiscreteScheduler extends SigmaScheduler {
  constructor(config: Readonly<Partial<SigmaSchedulerConfig>> = {}) {
    super('EulerAncestralDiscreteScheduler', EULER_ANCESTRAL_SPEC, config);
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, options: SchedulerStepOptions = {}): Tensor {
    const i = this.stepIndexOf(timestep);
    const sigma = this.sigmas[i];
    const next = this.sigmas[i + 1];
    const up = Math.sqrt((next * next * (sigma * sigma - next * next)) / (sigma * sigma));
    const down = Math.sqrt(Math.max(0, next * next - up * up));
    const ratio = down / sigma;
    const x0 = sigmaPrediction(this.config.prediction_type, sigma);
    const out = applyAffine({ sample: ratio + (1 - ratio) * x0.sample, output: (1 - ratio) * x0.output }, sample, modelOutput);
    // diffusers draws this noise at the last step too and multiplies it by σ_up = 0; skipping it there
    // only leaves the generator one draw earlier.
    if (up === 0) return out;
    return add(out, mul(randn(sample.shape, { generator: options.generator }), up));
  }
}
