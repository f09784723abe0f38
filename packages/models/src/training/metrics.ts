// metrics.jsonl of a run directory: one JSON object per logged step, appended as training goes.
import { existsSync, readFileSync } from '#host';
import { writeTextAtomic } from '@sd/io';

/**
 * Keeps only the lines up to `step` (the checkpoint a run resumes from). A process killed between
 * checkpoints has already logged later steps; the resumed run logs them again, and without this cut
 * they would appear twice (and the loss plot would draw them twice). A half-written last line (a
 * kill mid-write) is dropped too. Written atomically (writeTextAtomic), so a kill here loses nothing.
 */
export function truncateMetrics(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => {
      if (!line.trim()) return false;
      try {
        return (JSON.parse(line) as { step?: number }).step! <= step;
      } catch {
        return false;
      }
    });
  writeTextAtomic(path, kept.map((l) => l + '\n').join(''));
}
