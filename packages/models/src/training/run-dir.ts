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

/** A run's recorded config: its format names the trainer, `train.steps` may grow on resume. */
export interface RunConfigBase {
  format: string;
  train: { steps: number };
}

/**
 * Opens `dir` for a trainer (VAE, decoder): a fresh run needs an empty directory and starts an empty
 * metrics.jsonl; a resume must find the same settings (steps may grow) and data, and cuts
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
    const differences = configDifferences({ ...saved, train: { ...saved.train, steps: config.train.steps } }, config);
    assertResumable(checkpointPath, differences.filter((d) => !options.ignore?.some((key) => d.startsWith(`${key}: `))));
    step = Number(resumeFrom.metadata.step);
    truncateMetrics(metricsPath, step);
  } else writeFileSync(metricsPath, '');
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return { checkpointPath, metricsPath, resumeFrom, step };
}
