// Learning-rate schedules: functions of the step (0-based) returning a multiplier of the base lr.

export type Schedule = (step: number) => number;

export const constant = (): Schedule => () => 1;

/** Linear ramp from 0 to 1 over `warmup` steps, then constant. */
export const linearWarmup = (warmup: number): Schedule => (step) => (warmup > 0 ? Math.min(1, (step + 1) / warmup) : 1);

/**
 * Linear warmup then cosine decay to `minRatio` at `total` steps (the shape used by most
 * diffusion and CLIP training scripts).
 */
export const warmupCosine =
  (warmup: number, total: number, minRatio = 0): Schedule =>
  (step) => {
    if (step < warmup) return (step + 1) / warmup;
    const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
    return minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress));
  };

/**
 * Warmup–stable–decay: linear warmup, constant, then a linear decay to 0 over the last `decay` of
 * `total` steps (the last step runs at 1/decay). The decay's start is the only thing that depends
 * on `total`, so a run can be extended at a constant rate and annealed at its end (as in MiniCPM's
 * WSD schedule): steps before `total − decay` see the same rate whatever `total` is.
 */
export const warmupStableDecay =
  (warmup: number, total: number, decay: number): Schedule =>
  (step) => {
    const ramp = linearWarmup(warmup)(step);
    if (decay <= 0 || step < total - decay) return ramp;
    return ramp * Math.max(0, (total - step) / decay);
  };
