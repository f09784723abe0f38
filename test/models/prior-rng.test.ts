// The prior's random streams: each purpose (initial weights, training noise, sampling, k-means) has
// its own, so the initial weights depend only on the seed and the network, and the shifted prior and
// the unshifted baseline start from the same numbers for every tensor they share.
import { describe, expect, it } from 'vitest';
import { randn } from '@sd/autograd';
import { buildPrior, identityStats, type PriorConfig, type RunConfig, type ShiftStats, type TrainSettings } from '@sd/models';
import { priorGenerator } from '../../packages/models/src/prior/rng.ts';

const MODEL: PriorConfig = { embedDim: 8, width: 32, layers: 1, heads: 2, ffMult: 2, textTokenDim: 0, clusters: 2, useClusterToken: true, timesteps: 1000 };
const TRAIN: TrainSettings = {
  steps: 60, batchSize: 16, lr: 3e-3, betas: [0.9, 0.96], weightDecay: 0.06, eps: 1e-6, maxGradNorm: 1, warmupSteps: 5,
  clusters: 2, stdScale: 1, dropText: 0.1, seed: 3, baseline: false, emaDecay: 0, checkpointEvery: 10, logEvery: 5,
};
const STATS: ShiftStats = { k: 2, dim: 8, mean: new Float32Array(16).fill(0.5), std: new Float32Array(16).fill(1), counts: [3, 4] };

function config(train: Partial<TrainSettings>): RunConfig {
  const t = { ...TRAIN, ...train };
  return { format: 'sd-prior/1', model: { ...MODEL, useClusterToken: !t.baseline }, train: t, data: { source: 'none', count: 0, dim: 8, sha256: '' } };
}

async function initialWeights(train: Partial<TrainSettings>): Promise<Map<string, number[]>> {
  const c = config(train);
  const { model } = buildPrior(c, c.train.baseline ? identityStats(8) : STATS);
  const out = new Map<string, number[]>();
  for (const [name, p] of model.namedParameters()) out.set(name, Array.from(await p.read()));
  return out;
}

describe('prior random streams', () => {
  it('the shifted prior and the baseline start from identical weights for every tensor they share', async () => {
    const shifted = await initialWeights({});
    const baseline = await initialWeights({ baseline: true });
    expect([...shifted.keys()].filter((n) => !baseline.has(n)).every((n) => n.startsWith('cluster_embed.'))).toBe(true);
    expect(baseline.size).toBeGreaterThan(10);
    for (const [name, values] of baseline) expect(shifted.get(name), name).toEqual(values);
  });

  it('the initial weights depend on the seed, not on the batch size or other training settings', async () => {
    const a = await initialWeights({});
    expect(await initialWeights({ batchSize: 48, lr: 1e-4, steps: 7, dropText: 0.3 })).toEqual(a);
    const other = await initialWeights({ seed: 4 });
    expect(other.get('head.0.weight')).not.toEqual(a.get('head.0.weight'));
  });

  it('initial weights, training noise and sampling noise come from different streams', async () => {
    const draw = (purpose: 'init' | 'noise' | 'sample' | 'kmeans') => randn([16], { generator: priorGenerator(3, purpose) }).read().then((v) => Array.from(v));
    const streams = await Promise.all((['init', 'noise', 'sample', 'kmeans'] as const).map(draw));
    for (let i = 0; i < streams.length; i++) for (let j = i + 1; j < streams.length; j++) expect(streams[i]).not.toEqual(streams[j]);
  });
});
