// Where `sd sample` and `sd eval-decoder` find each trained part: the path given with its option
// (which must exist), else the trainer's default run directory, else the committed default under
// packages/models/assets/ (so a fresh clone works without training), else an error that names both
// places and the command that makes the part.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultClipPath, defaultDecoderDir, defaultPriorPath, defaultVaeDir } from '@sd/models';

export interface PartSource {
  path: string;
  /** 'option', 'run' (the trainer's default directory) or 'committed' (the asset). */
  from: 'option' | 'run' | 'committed';
}

function resolve(command: string, what: string, given: string | undefined, run: string, committed: string, how: string): PartSource {
  if (given !== undefined) {
    if (!existsSync(given)) throw new Error(`${command}: no ${what} at ${given} (${how})`);
    return { path: given, from: 'option' };
  }
  if (existsSync(run)) return { path: run, from: 'run' };
  if (existsSync(committed)) return { path: committed, from: 'committed' };
  throw new Error(`${command}: no ${what} at ${run} (${how}) and no committed default at ${committed}; or name one with its option`);
}

export const DEFAULT_RUN_VAE = join('runs', 'vae', 'final');
export const DEFAULT_RUN_DECODER = join('runs', 'decoder', 'final');

export function resolveVae(command: string, given?: string): PartSource {
  return resolve(command, 'VAE', given, DEFAULT_RUN_VAE, defaultVaeDir(), '`pnpm train:vae` writes runs/vae/final');
}

export function resolveDecoder(command: string, given?: string): PartSource {
  return resolve(command, 'decoder', given, DEFAULT_RUN_DECODER, defaultDecoderDir(), '`pnpm train:decoder` writes runs/decoder/final');
}

/** `shifted` and `baseline` name runs/prior/… or the committed pair; anything else is a prior run directory or checkpoint. */
export function resolvePrior(command: string, prior: string): PartSource {
  const how = '`pnpm train:prior` writes runs/prior/{shifted,baseline}';
  if (prior !== 'shifted' && prior !== 'baseline') return resolve(command, 'prior run', prior, prior, prior, how);
  return resolve(command, `${prior} prior run`, undefined, join('runs', 'prior', prior), defaultPriorPath(prior), how);
}

/** --clip-normalize, for several --clip: 'per-model' (each CLIP's block a unit vector; the default) or 'none' (raw). */
export function clipNormalizeOption(command: string, mode: string | undefined): boolean {
  if (mode === undefined || mode === 'per-model') return true;
  if (mode === 'none') return false;
  throw new Error(`${command}: --clip-normalize must be 'per-model' or 'none', got '${mode}'`);
}

/** The CLIP checkpoints of the repeatable --clip (none given: the committed default), in words for logs and run configs. */
export function clipSources(paths: readonly string[], normalize: boolean): { paths: readonly string[]; label: string } {
  const list = paths.length ? paths : [defaultClipPath()];
  if (!normalize && list.length === 1) console.warn("--clip-normalize none applies to several --clip only: one CLIP's embeddings are always unit rows");
  const label = list.length === 1 ? list[0] : `MultiCLIP(${list.join(' + ')}; ${normalize ? 'per-model' : 'none'})`;
  return { paths: list, label };
}
