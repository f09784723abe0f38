export { Optimizer, AdamW, SGD, type AdamWConfig, type SGDConfig, type StepOptions } from './optimizer.ts';
export { EMA, type EMAConfig } from './ema.ts';
export * from './schedule.ts';
