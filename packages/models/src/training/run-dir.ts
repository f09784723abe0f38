// Run directories: a fresh run only starts in an empty (or missing) one; a resume only with the
// settings and data it was started with.
import { existsSync, join, mkdirSync, readdirSync, writeFileSync } from '#host';
import { loadCheckpoint, type LoadedCheckpoint } from '@sd/autograd';
import { assertResumable, configDifferences } from './guards.ts';
import { truncateMetrics } from './metrics.ts';

/** The checkpoint file of a run directory (model, optimizer, EMA, step; settings in the metadata). */
export const CHECKPOINT = 'checkpoint.safetensors';

/**
 * Refuses a directory that already holds files. A fresh run there used to rewrite config.json and
 * empty metrics.jsonl at once but keep the old checkpoint until its first own one, so a later
 * `--resume` continued the old weights under the new config; refusing loses and mixes nothing.
 */
export function assertFreshRunDir(dir: string): void {
  if (!existsSync(dir)) return;
  const entries = readdirSync(dir);
  if (entries.length === 0) return;
  const shown = entries.length > 4 ? `${entries.slice(0, 4).join(', ')}, …` : entries.join(', ');
  throw new Error(`${dir} already holds a run (${shown}): continue it with --resume, or start the new run in another --out directory (or delete this one)`);
}

/** What a trainer's run directory holds, opened for a fresh run or a resume. */
export interface OpenedRun {
  checkpointPath: string;
  metricsPath: string;
  /** The checkpoint to continue from (null for a fresh run, or a resume that finds none). */
  resumeFrom: LoadedCheckpoint | null;
  /** Steps already done: the checkpoint's step, or 0. */
  step: number;
}

/**
 * A run's recorded config: its format names the trainer. `train.steps` may grow on resume, and
 * `train.decaySteps` (a learning-rate decay over the run's last steps) may be set or changed, as long
 * as every step already taken ran at the rate the new settings give it.
 */
export interface RunConfigBase {
  format: string;
  train: { steps: number; decaySteps?: number };
}

/** The first step of the run's lr decay (Infinity without one). */
const decayStart = (train: RunConfigBase['train']): number => (train.decaySteps ? train.steps - train.decaySteps : Infinity);

/**
 * Refuses a resume whose steps or decay do not continue the run: fewer steps than the checkpoint's,
 * a decay dropped (an option left out at resume must not end the run another way), or settings that
 * would have given the steps already taken another rate (the decay must not have begun before the
 * checkpoint, in the saved run or in the new settings).
 */
function assertScheduleContinues(checkpointPath: string, saved: RunConfigBase['train'], now: RunConfigBase['train'], step: number): void {
  if (now.steps < step) throw new Error(`${checkpointPath}: the checkpoint is at step ${step}, past --steps ${now.steps}; resume with --steps ${step} or more`);
  if (saved.decaySteps && !now.decaySteps) throw new Error(`${checkpointPath}: the run decays its learning rate over its last ${saved.decaySteps} steps; resume with --decay-steps ${saved.decaySteps} (or another decay that starts at or after step ${step})`);
  if (saved.steps === now.steps && (saved.decaySteps ?? 0) === (now.decaySteps ?? 0)) return;
  const [before, after] = [decayStart(saved), decayStart(now)];
  if (before < step) throw new Error(`${checkpointPath}: the run's learning-rate decay began at step ${before}, before its checkpoint's step ${step}; it can only be resumed with the same --steps ${saved.steps} and --decay-steps ${saved.decaySteps}`);
  if (after < step) throw new Error(`${checkpointPath}: --steps ${now.steps} with --decay-steps ${now.decaySteps} would start the decay at step ${after}, before the checkpoint's step ${step}, whose steps ran at the constant rate; start it at ${step} or later`);
}

/**
 * Opens `dir` for a trainer (VAE, decoder): a fresh run needs an empty directory and starts an empty
 * metrics.jsonl; a resume must find the same settings (steps may grow, a decay may be set: see RunConfigBase) and data, and cuts
 * metrics.jsonl back to the checkpoint's step. Either way config.json is (re)written. Keys in `ignore`
 * (e.g. "data.vae") may differ on resume: where a file lies, when its fingerprint is recorded too.
 */
export function openRun(dir: string, config: RunConfigBase, options: { resume?: boolean; kind: string; ignore?: string[] }): OpenedRun {
  if (!options.resume) assertFreshRunDir(dir);
  mkdirSync(dir, { recursive: true });
  const checkpointPath = join(dir, CHECKPOINT);
  const metricsPath = join(dir, 'metrics.jsonl');
  const resumeFrom = options.resume && existsSync(checkpointPath) ? loadCheckpoint(checkpointPath) : null;
  let step = 0;
  if (resumeFrom) {
    const text = resumeFrom.metadata.config;
    if (!text) throw new Error(`${checkpointPath}: metadata has no "config"`);
    const saved = JSON.parse(text) as RunConfigBase;
    if (saved.format !== config.format) throw new Error(`${checkpointPath}: not a ${options.kind} checkpoint (format ${JSON.stringify(saved.format)})`);
    const { decaySteps: _, ...savedTrain } = saved.train;
    const { decaySteps: __, ...train } = config.train;
    const differences = configDifferences({ ...saved, train: { ...savedTrain, steps: config.train.steps } }, { ...config, train });
    assertResumable(checkpointPath, differences.filter((d) => !options.ignore?.some((key) => d.startsWith(`${key}: `))));
    step = Number(resumeFrom.metadata.step);
    assertScheduleContinues(checkpointPath, saved.train, config.train, step);
    truncateMetrics(metricsPath, step);
  } else writeFileSync(metricsPath, '');
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return { checkpointPath, metricsPath, resumeFrom, step };
}
