// Checks shared by the trainers (prior and CLIP): what a resume may differ in, and whether the
// weights are fit to replace the last good checkpoint.
import type { Tensor } from '@sd/autograd';
import { sumOfSquares } from '@sd/kernels';

/** Every leaf where two JSON-like values differ, as "path: checkpoint X, requested Y" lines. */
export function configDifferences(saved: unknown, requested: unknown): string[] {
  const diffs: string[] = [];
  const walk = (x: unknown, y: unknown, path: string) => {
    if (typeof x === 'object' && x && typeof y === 'object' && y) {
      for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) walk((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
    } else if (JSON.stringify(x) !== JSON.stringify(y)) diffs.push(`${path}: checkpoint ${JSON.stringify(x)}, requested ${JSON.stringify(y)}`);
  };
  walk(saved, requested, '');
  return diffs;
}

/** True when every parameter is finite (checked before a checkpoint replaces the last good one). */
export async function parametersFinite(params: Tensor[]): Promise<boolean> {
  const total = sumOfSquares(params.map((p) => p.data));
  const value = (await total.read())[0];
  total.dispose();
  return Number.isFinite(value);
}

/** Refuses a resume whose recorded run differs from the requested one, listing every difference. */
export function assertResumable(checkpointPath: string, differences: string[]): void {
  if (differences.length) throw new Error(`${checkpointPath}: cannot resume with different settings:\n  ${differences.join('\n  ')}`);
}
