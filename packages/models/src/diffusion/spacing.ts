// Which training timesteps a sampler visits: diffusers' three `timestep_spacing` rules (Lin et al. 2023,
// "Common Diffusion Noise Schedules and Sample Steps are Flawed", table 2), per scheduler family,
// since each diffusers scheduler computes them slightly differently.
import { arange, linspace, roundHalfEven } from './numpy.ts';

export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';

/** DDPMScheduler / DDIMScheduler.set_timesteps: integer timesteps, descending. */
export function discreteTimesteps(spacing: TimestepSpacing, T: number, n: number, stepsOffset: number): number[] {
  switch (spacing) {
    case 'linspace':
      return linspace(0, T - 1, n).map(roundHalfEven).reverse();
    case 'leading': {
      const ratio = Math.floor(T / n);
      return Array.from({ length: n }, (_, i) => (n - 1 - i) * ratio + stepsOffset);
    }
    case 'trailing':
      return arange(T, 0, -T / n).map((t) => roundHalfEven(t) - 1);
  }
}

/**
 * EulerDiscreteScheduler / EulerAncestralDiscreteScheduler: as `discreteTimesteps`, except that
 * 'linspace' keeps the fractional float32 values (999, 957.375, …) and σ is interpolated there.
 */
export function eulerTimesteps(spacing: TimestepSpacing, T: number, n: number, stepsOffset: number): number[] {
  if (spacing === 'linspace') return linspace(0, T - 1, n).map(Math.fround).reverse();
  return discreteTimesteps(spacing, T, n, stepsOffset);
}

/**
 * DPMSolverMultistepScheduler: 'linspace' and 'leading' split the range into n+1 points and drop
 * the last (lowest) one, since the solver's final step goes to σ = 0 (or σ_min) instead.
 */
export function dpmSolverTimesteps(spacing: TimestepSpacing, T: number, n: number, stepsOffset: number): number[] {
  switch (spacing) {
    case 'linspace':
      return linspace(0, T - 1, n + 1).map(roundHalfEven).reverse().slice(0, n);
    case 'leading': {
      const ratio = Math.floor(T / (n + 1));
      return Array.from({ length: n }, (_, i) => (n - i) * ratio + stepsOffset);
    }
    case 'trailing':
      return arange(T, 0, -T / n).map((t) => roundHalfEven(t) - 1);
  }
}

/**
 * Rejects what diffusers would silently get wrong: NumPy's float `arange` makes 'trailing' return
 * n+1 timesteps ending at −1 for some n (61, 103, 121, …), and a large `steps_offset` with 'leading'
 * runs past the last trained timestep.
 */
export function checkTimesteps(who: string, timesteps: number[], T: number, n: number): number[] {
  if (timesteps.length !== n) {
    throw new Error(`${who}: this timestep_spacing gives ${timesteps.length} timesteps for ${n} steps (diffusers' float arange quirk); choose another step count or spacing`);
  }
  for (const t of timesteps) {
    if (!(t >= 0 && t <= T - 1)) throw new Error(`${who}: timestep ${t} for ${n} steps lies outside [0, ${T - 1}] (check steps_offset)`);
  }
  return timesteps;
}

export function checkStepCount(who: string, n: number, T: number): void {
  if (!Number.isInteger(n) || n < 1 || n > T) throw new Error(`${who}.setTimesteps: the number of steps must be an integer in [1, ${T}], got ${n}`);
}

/**
 * The timesteps of the discrete-time schedulers (DDPM, DDIM) for `steps` sampling steps: checked
 * count, diffusers' spacing and offset, checked result.
 */
export function discreteSchedule(name: string, config: { num_train_timesteps: number; timestep_spacing: TimestepSpacing; steps_offset: number }, steps: number): number[] {
  const T = config.num_train_timesteps;
  checkStepCount(name, steps, T);
  return checkTimesteps(name, discreteTimesteps(config.timestep_spacing, T, steps, config.steps_offset), T, steps);
}
