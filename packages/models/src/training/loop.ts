// The part of every trainer's loop that is not about its model: timing, metrics.jsonl, the
// divergence guards and the checkpoint cadence. A trainer supplies one optimizer step and a save.
import { appendFileSync } from '#host';
import type { Tensor } from '@sd/autograd';
import { parametersFinite } from './guards.ts';

export interface StepReport {
  step: number;
  loss: number;
  lr: number;
  itPerSec: number;
}

/** What a trainer of model M takes besides its data and settings: the run directory and the hooks. */
export interface TrainRunOptions<M> {
  outDir: string;
  resume?: boolean;
  onStep?: (r: StepReport) => void;
  /** Stop after this many steps of this invocation (tests use it to simulate a kill). */
  stopAfter?: number;
  /**
   * Replay the training step from a recording after its first run (default true; same results,
   * less host time per step). False runs every step eagerly.
   */
  record?: boolean;
  /**
   * Called after each optimizer update with the step just completed; tests use it to corrupt a
   * parameter and prove that the divergence guards fire (an lr large enough to overflow at once
   * would trip the loss check first, never the parameter check).
   */
  afterUpdate?: (step: number, model: M) => void;
}

export interface CheckpointedSteps {
  /** The step to start from (0, or the checkpoint's step on resume) and the run's total steps. */
  from: number;
  steps: number;
  /** Stop after this many steps of this invocation (TrainRunOptions.stopAfter). */
  stopAfter?: number;
  logEvery: number;
  checkpointEvery: number;
  metricsPath: string;
  /** Named in the divergence errors: the file that still holds the last good weights. */
  checkpointPath: string;
  /** Checked for NaN/Inf before each save, so a bad update never replaces a good checkpoint. */
  params: Tensor[];
  /** One optimizer update for step `step` (0-based); returns its detached loss and the lr it used. */
  runStep: (step: number) => { loss: Tensor; lr: number };
  /** Writes the checkpoint for `step` completed steps. */
  save: (step: number) => Promise<void>;
  onStep?: (report: StepReport) => void;
  /** Called after each update with the number of steps completed (tests corrupt weights with it). */
  afterUpdate?: (step: number) => void;
  /** Awaited after each step's logging and checkpoint (the decoder writes its sample grids here). */
  afterStep?: (step: number) => Promise<void>;
}

/**
 * Runs steps `from`..`steps` (fewer with `stopAfter`). The loss is read back only on logged steps (a read is a GPU sync);
 * a checkpoint is written every `checkpointEvery` steps and at `stopAt`, each only after the loss
 * and the parameters were found finite (checkpoints also at the last step run).
 */
export async function runCheckpointedSteps(o: CheckpointedSteps): Promise<{ step: number; lastLoss: number }> {
  const stopAt = Math.min(o.steps, o.stopAfter !== undefined ? o.from + o.stopAfter : Infinity);
  let step = o.from;
  let lastLoss = NaN;
  let timer = performance.now();
  let timedSteps = 0;
  while (step < stopAt) {
    const { loss, lr } = o.runStep(step);
    step++;
    timedSteps++;
    o.afterUpdate?.(step);
    const checkpointNow = step % o.checkpointEvery === 0 || step === stopAt;
    if (step % o.logEvery === 0 || checkpointNow) {
      lastLoss = await loss.item();
      loss.dispose();
      if (!Number.isFinite(lastLoss)) {
        throw new Error(`training diverged: loss is ${lastLoss} at step ${step}; the last good checkpoint is kept in ${o.checkpointPath}`);
      }
      const now = performance.now();
      const report = { step, loss: lastLoss, lr, itPerSec: (timedSteps * 1000) / (now - timer) };
      timer = now;
      timedSteps = 0;
      appendFileSync(o.metricsPath, JSON.stringify(report) + '\n');
      o.onStep?.(report);
    } else loss.dispose();
    if (checkpointNow) {
      if (!(await parametersFinite(o.params))) {
        throw new Error(`training diverged: parameters became NaN/Inf by step ${step}; the last good checkpoint is kept in ${o.checkpointPath}`);
      }
      await o.save(step);
    }
    await o.afterStep?.(step);
  }
  return { step, lastLoss };
}

/** What every trainer's settings share: the schedule and AdamW with clipping and linear warm-up. */
export interface OptimizerSettings {
  steps: number;
  batchSize: number;
  lr: number;
  betas: [number, number];
  weightDecay: number;
  eps: number;
  maxGradNorm: number;
  warmupSteps: number;
}
