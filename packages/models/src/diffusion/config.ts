// Reading diffusers' `scheduler_config.json` with the shared config reader (io/config-schema.ts):
// every key a scheduler understands is type-checked, a value this implementation cannot honour is an
// error (never a silent fallback), and a key the scheduler does not know is reported as a warning and
// ignored, as diffusers itself does when a config written for one scheduler class (Stable Diffusion
// ships a PNDMScheduler one) loads another.
import { only, parseConfig, type ConfigSchema } from '../io/config-schema.ts';
import type { BetaSchedule } from './betas.ts';
import type { TimestepSpacing } from './spacing.ts';

export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';

/** The keys every scheduler here reads, named as in `scheduler_config.json`. */
export interface BaseSchedulerConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: BetaSchedule;
  /** Explicit β per training step; overrides beta_start/beta_end/beta_schedule when given. */
  trained_betas: number[] | null;
  prediction_type: PredictionType;
  timestep_spacing: TimestepSpacing;
  steps_offset: number;
}

const BETA_SCHEDULES: readonly BetaSchedule[] = ['linear', 'scaled_linear', 'squaredcos_cap_v2'];
const PREDICTION_TYPES: readonly PredictionType[] = ['epsilon', 'v_prediction', 'sample'];
const SPACINGS: readonly TimestepSpacing[] = ['leading', 'trailing', 'linspace'];

/** The keys shared by all schedulers, with the given default spacing (diffusers' differ per class). */
export function commonSpec(defaultSpacing: TimestepSpacing): ConfigSchema {
  return {
    num_train_timesteps: { kind: 'int', default: 1000, min: 1 },
    beta_start: { kind: 'number', default: 0.0001, min: 0 },
    beta_end: { kind: 'number', default: 0.02, min: 0 },
    beta_schedule: { kind: 'string', default: 'linear', supported: only(...BETA_SCHEDULES) },
    trained_betas: { kind: 'number[]', default: null, nullable: true },
    prediction_type: { kind: 'string', default: 'epsilon', supported: only(...PREDICTION_TYPES) },
    timestep_spacing: { kind: 'string', default: defaultSpacing, supported: only(...SPACINGS) },
    steps_offset: { kind: 'int', default: 0, min: 0 },
    // Known diffusers options whose non-default behaviour is not implemented: only the default passes.
    rescale_betas_zero_snr: { kind: 'bool', default: false, supported: only(false) },
  };
}

/** diffusers' dynamic thresholding of x̂₀ (DDPM, DDIM, DPM-Solver), which is not implemented. */
export const THRESHOLDING_SPEC: ConfigSchema = {
  thresholding: { kind: 'bool', default: false, supported: only(false) },
  // Only read by thresholding; accepted so stock configs load, and inert like in diffusers.
  dynamic_thresholding_ratio: { kind: 'number', default: 0.995 },
  sample_max_value: { kind: 'number', default: 1 },
};

/** diffusers' x̂₀ clipping/thresholding keys (DDPM, DDIM). */
export const CLIP_SPEC: ConfigSchema = {
  clip_sample: { kind: 'bool', default: true },
  clip_sample_range: { kind: 'number', default: 1, min: 0 },
  ...THRESHOLDING_SPEC,
};

/** σ-schedule options of the k-diffusion style schedulers that only their defaults are implemented for. */
export const SIGMA_SPEC: ConfigSchema = {
  use_karras_sigmas: { kind: 'bool', default: false, supported: only(false) },
  use_exponential_sigmas: { kind: 'bool', default: false, supported: only(false) },
  use_beta_sigmas: { kind: 'bool', default: false, supported: only(false) },
};

/** `raw` read against `spec` (see parseConfig), plus the check across keys: one β per training step. */
export function readSchedulerConfig<C extends BaseSchedulerConfig>(raw: Readonly<Record<string, unknown>>, spec: ConfigSchema, who: string): { config: C; warnings: string[] } {
  const { values, warnings } = parseConfig(raw, spec, who);
  const config = values as unknown as C;
  const betas = config.trained_betas;
  if (betas && betas.length !== config.num_train_timesteps) {
    throw new Error(`${who}: "trained_betas" has ${betas.length} values but "num_train_timesteps" is ${config.num_train_timesteps}`);
  }
  return { config, warnings };
}

/**
 * Parses `scheduler_config.json` text. Python's json module writes -Infinity/Infinity/NaN bare
 * (DPMSolverMultistepScheduler's lambda_min_clipped is -inf), which JSON.parse rejects.
 */
export function parseSchedulerConfig(text: string): Record<string, unknown> {
  const marked = text.replace(/([:,[]\s*)(-?Infinity|NaN)(?=\s*[,}\]])/g, '$1"\\u0000$2"');
  let parsed: unknown;
  try {
    parsed = JSON.parse(marked, (_key, value) => (typeof value === 'string' && value.startsWith('\u0000') ? Number(value.slice(1)) : value));
  } catch (e) {
    throw new Error(`scheduler config: not valid JSON (${(e as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('scheduler config: expected a JSON object');
  return parsed as Record<string, unknown>;
}
