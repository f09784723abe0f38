// `sd train-prior --seeds`: each prior once per seed in its own directory, then mean ± std over the
// seeds and paired bootstrap intervals of shifted − baseline whose estimates are the mean of the
// per-seed differences (checked against the per-seed evaluations written beside them).
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../packages/cli/src/program.ts';
import { trainPriorCommand } from '../../packages/cli/src/commands/train-prior.ts';
import type { TrainPriorCli } from '../../packages/cli/src/options.ts';

const defaults = (): TrainPriorCli => {
  const cmd = buildProgram().commands.find((c) => c.name() === 'train-prior')!;
  return Object.fromEntries(cmd.options.filter((o) => o.defaultValue !== undefined || o.negate).map((o) => [o.attributeName(), o.negate ? true : o.defaultValue])) as unknown as TrainPriorCli;
};

describe('sd train-prior --seeds', () => {
  it('trains each prior per seed and reports spreads and paired intervals on the validation split', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'sd-seeds-')), 'run');
    await trainPriorCommand({ ...defaults(), steps: '6', batchSize: '16', evalSteps: '2', seeds: '0,1', bootstrap: '20', out });
    for (const s of [0, 1]) for (const v of ['shifted', 'baseline']) expect(existsSync(join(out, `seed-${s}`, v, 'checkpoint.safetensors'))).toBe(true);
    const e = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8'));
    expect([e.split, e.seeds, e.heldOut]).toEqual(['validation', [0, 1], 1000]);
    const perSeed = (v: string, s: number) => JSON.parse(readFileSync(join(out, `seed-${s}`, v, 'eval.json'), 'utf8'));
    for (const metric of ['cosineToImage', 'recallAt1', 'meanRank', 'frechet'] as const) {
      const diff = [0, 1].map((s) => perSeed('shifted', s)[metric] - perSeed('baseline', s)[metric]);
      const c = e.shiftedMinusBaseline[metric];
      expect(c.estimate, metric).toBeCloseTo((diff[0] + diff[1]) / 2, 9);
      expect(c.low, metric).toBeLessThanOrEqual(c.estimate + 1e-12);
      expect(c.high, metric).toBeGreaterThanOrEqual(c.estimate - 1e-12);
      const values = [0, 1].map((s) => perSeed('shifted', s)[metric]);
      expect(e.spread.shifted[metric].mean, metric).toBeCloseTo((values[0] + values[1]) / 2, 12);
    }
    expect(Object.keys(e.trivialArms)).toEqual(['text embedding as is', 'ridge map (fit on train)']);
    // The caption kinds of the research question, each a part of the split with its own intervals.
    const kinds = Object.values(e.bySpecificity) as { count: number; comparison: Record<string, { low: number; high: number }> }[];
    expect(kinds).toHaveLength(2);
    for (const k of kinds) expect(k.count).toBeGreaterThan(50);
    expect(kinds[0].count + kinds[1].count).toBeLessThan(1000);
  }, 300_000);
});
