// Run directories: a fresh run only starts in an empty (or missing) one.
import { existsSync, readdirSync } from 'node:fs';

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
