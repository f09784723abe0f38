// Reading diffusers' `scheduler_config.json`: every key a scheduler understands is type-checked, a
// value this implementation cannot honour is an error (never a silent fallback), and a key the
// scheduler does not know is reported as a warning and ignored, as diffusers itself does when a
// config written for one scheduler class (Stable Diffusion ships a PNDMScheduler one) loads another.
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

type ValueType = 'integer' | 'number' | 'boolean' | 'string' | 'number[] | null' | 'number | null' | 'string | null';

/** How one key is read: its type and default, and which values are implemented. */
export interface KeySpec {
  type: ValueType;
  default: unknown;
  /** The values this implementation supports; absent means any value of the type. */
  values?: readonly unknown[];
  /** The least allowed value of a number. */
  min?: number;
}

export type ConfigSpec = Readonly<Record<string, KeySpec>>;

const BETA_SCHEDULES: readonly BetaSchedule[] = ['linear', 'scaled_linear', 'squaredcos_cap_v2'];
const PREDICTION_TYPES: readonly PredictionType[] = ['epsilon', 'v_prediction', 'sample'];
const SPACINGS: readonly TimestepSpacing[] = ['leading', 'trailing', 'linspace'];

/** The keys shared by all schedulers, with the given default spacing (diffusers' differ per class). */
export function commonSpec(defaultSpacing: TimestepSpacing): Record<string, KeySpec> {
  return {
    num_train_timesteps: { type: 'integer', default: 1000, min: 1 },
    beta_start: { type: 'number', default: 0.0001, min: 0 },
    beta_end: { type: 'number', default: 0.02, min: 0 },
    beta_schedule: { type: 'string', default: 'linear', values: BETA_SCHEDULES },
    trained_betas: { type: 'number[] | null', default: null },
    prediction_type: { type: 'string', default: 'epsilon', values: PREDICTION_TYPES },
    timestep_spacing: { type: 'string', default: defaultSpacing, values: SPACINGS },
    steps_offset: { type: 'integer', default: 0, min: 0 },
    // Known diffusers options whose non-default behaviour is not implemented: only the default passes.
    rescale_betas_zero_snr: { type: 'boolean', default: false, values: [false] },
  };
}

/** diffusers' x̂₀ clipping/thresholding keys (DDPM, DDIM); dynamic thresholding itself is not implemented. */
export const CLIP_SPEC: Record<string, KeySpec> = {
  clip_sample: { type: 'boolean', default: true },
  clip_sample_range: { type: 'number', default: 1, min: 0 },
  thresholding: { type: 'boolean', default: false, values: [false] },
  // Only read by thresholding; accepted so stock configs load, and inert like in diffusers.
  dynamic_thresholding_ratio: { type: 'number', default: 0.995 },
  sample_max_value: { type: 'number', default: 1 },
};

/** σ-schedule options of the k-diffusion style schedulers that only their defaults are implemented for. */
export const SIGMA_SPEC: Record<string, KeySpec> = {
  use_karras_sigmas: { type: 'boolean', default: false, values: [false] },
  use_exponential_sigmas: { type: 'boolean', default: false, values: [false] },
  use_beta_sigmas: { type: 'boolean', default: false, values: [false] },
};

export interface ResolvedConfig<C> {
  config: C;
  /** One line per ignored key. */
  warnings: string[];
}

const describe = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? `an array of ${v.length}` : String(v));

function typeMatches(type: ValueType, v: unknown): boolean {
  const isNumber = (x: unknown) => typeof x === 'number' && !Number.isNaN(x);
  switch (type) {
    case 'integer':
      return Number.isInteger(v);
    case 'number':
      return isNumber(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'string':
      return typeof v === 'string';
    case 'number[] | null':
      return v === null || (Array.isArray(v) && v.every((x) => isNumber(x) && Number.isFinite(x)));
    case 'number | null':
      return v === null || isNumber(v);
    case 'string | null':
      return v === null || typeof v === 'string';
  }
}

/**
 * Validates `raw` against `spec` and fills in defaults. Keys starting with '_' (`_class_name`,
 * `_diffusers_version`) are file metadata and skipped; other unknown keys become warnings.
 */
export function resolveConfig<C>(who: string, spec: ConfigSpec, raw: Readonly<Record<string, unknown>>): ResolvedConfig<C> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${who}: the config must be a JSON object`);
  const config: Record<string, unknown> = {};
  const warnings: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined || key.startsWith('_')) continue;
    const s = spec[key];
    if (!s) {
      warnings.push(`${who}: ignoring config key ${key} = ${describe(value)} (not an option of this scheduler)`);
      continue;
    }
    if (!typeMatches(s.type, value)) throw new Error(`${who}: config key ${key} must be ${s.type}, got ${describe(value)} (${value === null ? 'null' : typeof value})`);
    if (s.values && !s.values.includes(value)) {
      throw new Error(`${who}: unsupported ${key} = ${describe(value)} (supported: ${s.values.map(describe).join(', ')})`);
    }
    if (s.min !== undefined && typeof value === 'number' && value < s.min) throw new Error(`${who}: config key ${key} must be ≥ ${s.min}, got ${value}`);
    config[key] = value;
  }
  for (const [key, s] of Object.entries(spec)) if (!(key in config)) config[key] = s.default;
  const betas = config.trained_betas as number[] | null;
  if (betas && betas.length !== config.num_train_timesteps) {
    throw new Error(`${who}: trained_betas has ${betas.length} values but num_train_timesteps is ${config.num_train_timesteps}`);
  }
  return { config: config as C, warnings };
}

/**
 * Parses `scheduler_config.json` text. Python's json module writes -Infinity/Infinity/NaN bare
 * (DPMSolverMultistepScheduler's lambda_min_clipped is -inf), which JSON.parse rejects.
 */
export function parseSchedulerConfig(text: string): Record<string, unknown> {
  const marked = text.replace(/([:,[]\s*)(-?Infinity|NaN)(?=\s*[,}\]])/g, '$1"\\u0000$2"');
  const parsed: unknown = JSON.parse(marked, (_key, value) =>
    typeof value === 'string' && value.startsWith('\u0000') ? Number(value.slice(1)) : value,
  );
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('scheduler config: expected a JSON object');
  return parsed as Record<string, unknown>;
}
