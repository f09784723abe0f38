// diffusers-compatible noise schedulers, shared by the prior and the Stable Diffusion decoder.
export { linearBetas, scaledLinearBetas, cosineBetas, betasFor, cumulativeAlphas, type BetaSchedule } from './betas.ts';
export { linearSchedule, respace, posteriorCoefficients, type Schedule } from './schedule.ts';
export { parseSchedulerConfig, type BaseSchedulerConfig, type PredictionType } from './config.ts';
export type { ConfigSchema as ConfigSpec, KeySpec } from '../io/config-schema.ts';
export { discreteTimesteps, eulerTimesteps, dpmSolverTimesteps, type TimestepSpacing } from './spacing.ts';
export { DiffusionScheduler, type SchedulerStepOptions, type FromConfigOptions } from './scheduler.ts';
export { DDPMScheduler, type DDPMConfig } from './ddpm.ts';
export { DDIMScheduler, type DDIMConfig, type DDIMStepOptions } from './ddim.ts';
export { SigmaScheduler, type SigmaSchedulerConfig } from './sigma-scheduler.ts';
export { EulerDiscreteScheduler } from './euler.ts';
export { EulerAncestralDiscreteScheduler } from './euler-ancestral.ts';
export { DPMSolverMultistepScheduler, type DPMSolverConfig } from './dpm-solver.ts';
export { classifierFreeGuidance } from './guidance.ts';
export { sampleLoop, type DenoiseModel, type SampleLoopOptions } from './sample-loop.ts';
export { loadScheduler, schedulerFromConfig, SCHEDULERS, SCHEDULER_ALIASES, type SchedulerName } from './load.ts';
