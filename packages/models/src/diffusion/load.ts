// A scheduler from a diffusers `scheduler_config.json` (a pipeline folder, its `scheduler/` folder,
// or the file itself). `_class_name` picks the class; `as` swaps in another one on the same config,
// as `OtherScheduler.from_config(pipe.scheduler.config)` does in diffusers (Stable Diffusion ships a
// PNDMScheduler config, which this project samples with Euler, DDIM or DPM-Solver++ instead).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DDIMScheduler } from './ddim.ts';
import { DDPMScheduler } from './ddpm.ts';
import { DPMSolverMultistepScheduler } from './dpm-solver.ts';
import { EulerAncestralDiscreteScheduler } from './euler-ancestral.ts';
import { EulerDiscreteScheduler } from './euler.ts';
import type { DiffusionScheduler, FromConfigOptions } from './scheduler.ts';
import { parseSchedulerConfig, type BaseSchedulerConfig } from './config.ts';
import { SCHEDULER_CONFIG_NAME } from '../io/diffusers.ts';

export const SCHEDULERS = {
  DDPMScheduler,
  DDIMScheduler,
  EulerDiscreteScheduler,
  EulerAncestralDiscreteScheduler,
  DPMSolverMultistepScheduler,
} as const;

export type SchedulerName = keyof typeof SCHEDULERS;

/** Short names for the command line. */
export const SCHEDULER_ALIASES: Record<string, SchedulerName> = {
  ddpm: 'DDPMScheduler',
  ddim: 'DDIMScheduler',
  euler: 'EulerDiscreteScheduler',
  'euler-a': 'EulerAncestralDiscreteScheduler',
  'dpm++': 'DPMSolverMultistepScheduler',
};

function configFile(path: string): string {
  if (!existsSync(path)) throw new Error(`${path}: no such file or folder`);
  if (!statSync(path).isDirectory()) return path;
  for (const candidate of [join(path, SCHEDULER_CONFIG_NAME), join(path, 'scheduler', SCHEDULER_CONFIG_NAME)]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`${path}: no scheduler_config.json (looked in the folder and in its scheduler/)`);
}

/** Builds `as` (a class name or alias), or else the config's own `_class_name`. */
export function schedulerFromConfig(text: string, label: string, options: FromConfigOptions & { as?: string } = {}): DiffusionScheduler<BaseSchedulerConfig> {
  let raw: Record<string, unknown>;
  try {
    raw = parseSchedulerConfig(text);
  } catch (e) {
    throw new Error(`${label}: ${(e as Error).message}`);
  }
  const className: unknown = options.as ?? raw._class_name;
  const name = SCHEDULER_ALIASES[className as string] ?? className;
  const Scheduler = SCHEDULERS[name as SchedulerName];
  if (!Scheduler) {
    const known = [...Object.keys(SCHEDULERS), ...Object.keys(SCHEDULER_ALIASES)].join(', ');
    throw new Error(`${label}: scheduler ${JSON.stringify(className)} is not implemented (known: ${known}); choose one with { as }`);
  }
  try {
    return (Scheduler as unknown as typeof DDPMScheduler).fromConfig(raw, options) as unknown as DiffusionScheduler<BaseSchedulerConfig>;
  } catch (e) {
    throw new Error(`${label}: ${(e as Error).message}`);
  }
}

export function loadScheduler(path: string, options: FromConfigOptions & { as?: string } = {}): DiffusionScheduler<BaseSchedulerConfig> {
  const file = configFile(path);
  return schedulerFromConfig(readFileSync(file, 'utf8'), file, options);
}
