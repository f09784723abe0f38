// DPMSolverMultistepScheduler with algorithm_type 'dpmsolver++' (Lu et al. 2022, "DPM-Solver++",
// Algorithm 2 "2M"): a multistep exponential integrator in λ = log(α/σ) on the data prediction x̂₀,
//   x_t = (σ_t/σ_s)·x_s + α_t(1 − e^{−h})·D,  h = λ_t − λ_s,
// with D = x̂₀(s) (first order) or (1 + 1/(2r))·x̂₀(s) − 1/(2r)·x̂₀(s_prev), r = h_prev/h (second order).
// α, σ here are the variance-preserving √ᾱ, √(1−ᾱ).
import { type Tensor } from '@sd/autograd';
import { only, type ConfigSchema } from '../io/config-schema.ts';
import { SIGMA_SPEC, THRESHOLDING_SPEC, commonSpec, type BaseSchedulerConfig } from './config.ts';
import { interpUnitGrid } from './numpy.ts';
import { applyAffine, combine, vpPrediction } from './linear.ts';
import { DiffusionScheduler, type SchedulerStepOptions } from './scheduler.ts';
import { checkStepCount, checkTimesteps, dpmSolverTimesteps } from './spacing.ts';

export interface DPMSolverConfig extends BaseSchedulerConfig {
  /** 1 (DDIM-like) or 2 (2M). */
  solver_order: 1 | 2;
  /** Use first order on the last step when there are fewer than 15 steps (stabler). */
  lower_order_final: boolean;
  /** Always use first order on the last step. */
  euler_at_final: boolean;
  /** The last step goes to σ = 0 ('zero', returning x̂₀) or to the σ of timestep 0 ('sigma_min'). */
  final_sigmas_type: 'zero' | 'sigma_min';
}

const DPM_SPEC: ConfigSchema = {
  ...commonSpec('linspace'),
  ...SIGMA_SPEC,
  ...THRESHOLDING_SPEC,
  solver_order: { kind: 'int', default: 2, supported: only(1, 2) },
  algorithm_type: { kind: 'string', default: 'dpmsolver++', supported: only('dpmsolver++') },
  solver_type: { kind: 'string', default: 'midpoint', supported: only('midpoint') },
  lower_order_final: { kind: 'bool', default: true },
  euler_at_final: { kind: 'bool', default: false },
  final_sigmas_type: { kind: 'string', default: 'zero', supported: only('zero', 'sigma_min') },
  lambda_min_clipped: { kind: 'float', default: -Infinity, supported: only(-Infinity) },
  variance_type: { kind: 'string', default: null, nullable: true, supported: only(null) },
  use_lu_lambdas: { kind: 'bool', default: false, supported: only(false) },
};

/** α, σ and λ = log α − log σ of the VP process at the σ-parameterised noise level s = σ/α. */
function vpAt(s: number): { alpha: number; sigma: number; lambda: number } {
  const alpha = 1 / Math.sqrt(s * s + 1);
  return { alpha, sigma: s * alpha, lambda: -Math.log(s) };
}

export class DPMSolverMultistepScheduler extends DiffusionScheduler<DPMSolverConfig> {
  readonly trainSigmas: Float64Array;
  /** σ/α at each of `timesteps`, then the final one. */
  sigmas: number[] = [];
  /** x̂₀ of the previous step (kept between steps; released after the last step or by reset). */
  private previousX0: Tensor | null = null;
  private lowerOrderNums = 0;
  private stepIndex = 0;

  constructor(config: Readonly<Partial<DPMSolverConfig>> = {}) {
    super('DPMSolverMultistepScheduler', DPM_SPEC, config);
    this.trainSigmas = this.alphasCumprod.map((a) => Math.sqrt((1 - a) / a));
  }

  setTimesteps(numInferenceSteps: number): void {
    const T = this.config.num_train_timesteps;
    checkStepCount(this.name, numInferenceSteps, T);
    const ts = dpmSolverTimesteps(this.config.timestep_spacing, T, numInferenceSteps, this.config.steps_offset);
    this.timesteps = checkTimesteps(this.name, ts, T, numInferenceSteps);
    const last = this.config.final_sigmas_type === 'zero' ? 0 : this.trainSigmas[0];
    this.sigmas = [...this.timesteps.map((t) => interpUnitGrid(t, this.trainSigmas)), last];
    this.numInferenceSteps = numInferenceSteps;
    this.reset();
  }

  override reset(): void {
    this.previousX0?.dispose();
    this.previousX0 = null;
    this.lowerOrderNums = 0;
    this.stepIndex = 0;
  }

  step(modelOutput: Tensor, timestep: number, sample: Tensor, _options: SchedulerStepOptions = {}): Tensor {
    const i = this.stepIndexOf(timestep);
    // A trajectory may start anywhere (img2img), but once started it must follow `timesteps`.
    if (this.lowerOrderNums > 0 && i !== this.stepIndex) {
      throw new Error(`${this.name}.step: got timestep ${timestep}, expected ${this.timesteps[this.stepIndex]} (steps must follow timesteps in order; reset() to restart)`);
    }
    const n = this.timesteps.length;
    const isLast = i === n - 1;
    const s = vpAt(this.sigmas[i]);
    const x0 = applyAffine(vpPrediction(this.config.prediction_type, s.alpha * s.alpha).x0, sample, modelOutput);

    const lowerOrderFinal = isLast && (this.config.euler_at_final || (this.config.lower_order_final && n < 15) || this.config.final_sigmas_type === 'zero');
    const firstOrder = this.config.solver_order === 1 || this.lowerOrderNums < 1 || lowerOrderFinal || !this.previousX0;
    let out: Tensor;
    if (this.sigmas[i + 1] === 0) {
      // σ_t = 0: λ_t = ∞, e^{−h} = 0, α_t = 1, so the first-order update is x̂₀ itself.
      out = combine([[1, x0]]);
    } else {
      const t = vpAt(this.sigmas[i + 1]);
      const h = t.lambda - s.lambda;
      const c = -t.alpha * Math.expm1(-h); // α_t(1 − e^{−h})
      if (firstOrder) {
        out = combine([
          [t.sigma / s.sigma, sample],
          [c, x0],
        ]);
      } else {
        const r = (s.lambda - vpAt(this.sigmas[i - 1]).lambda) / h;
        out = combine([
          [t.sigma / s.sigma, sample],
          [c * (1 + 0.5 / r), x0],
          [(-c * 0.5) / r, this.previousX0!],
        ]);
      }
    }

    this.previousX0?.dispose();
    this.previousX0 = null;
    if (isLast) {
      this.reset();
    } else {
      this.previousX0 = x0.keep();
      this.lowerOrderNums = Math.min(this.lowerOrderNums + 1, this.config.solver_order);
      this.stepIndex = i + 1;
    }
    return out;
  }
}
