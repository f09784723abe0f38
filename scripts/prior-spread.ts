// How much a prior's samples for one caption spread, by sampling steps and sampler, and the same for
// an untrained prior of the same configuration: `tsx scripts/prior-spread.ts [PRIOR] [ROW]`
// (default: the committed shifted prior and the validation split's first caption). 8 samples of
// the caption; spread = mean distance between their unit embeddings (groupSpread). Behind the
// README's per-caption diversity reading: a trained prior that ignores its noise spreads ~0 at any
// step count; an untrained one does not.
import { join } from 'node:path';
import { initRuntime } from '@sd/kernels';
import { ROOT } from './page.ts';
import { buildPrior, disposePrior, embeddedDataDir, generateEmbeddings, groupSpread, loadEmbeddingPairs, loadPrior, readCaptions, type PriorBundle } from '@sd/models';

const [priorPath = join(ROOT, 'packages/models/assets/default-prior/shifted.safetensors'), rowText = '0'] = process.argv.slice(2);
const row = Number(rowText);
await initRuntime();
const split = join(embeddedDataDir(), 'validation');
const pairs = loadEmbeddingPairs(split);
const dim = pairs.dim;
const samples = 8;
const text = new Float32Array(samples * dim);
for (let k = 0; k < samples; k++) text.set(pairs.text.subarray(row * dim, (row + 1) * dim), k * dim);
console.log(`"${readCaptions(split)?.[row]}" (validation row ${row}), ${samples} samples, guidance 1, seed 1`);

// DDPM: ancestral (fresh noise every step); DDIM with η = 0: deterministic from x_T.
const spread = async (prior: PriorBundle, steps: number, sampler: 'ddpm' | 'ddim') =>
  groupSpread(await generateEmbeddings(prior, text, { steps, seed: 1, sampler, eta: 0 }), 1, samples, dim)[0];
const trained = loadPrior(priorPath);
for (const steps of [8, 50, 250]) {
  for (const sampler of ['ddpm', 'ddim'] as const) console.log(`${priorPath}: ${steps} ${sampler} steps: spread ${(await spread(trained, steps, sampler)).toExponential(2)}`);
}
const untrained = buildPrior(trained.config, trained.diffusion.stats);
untrained.model.eval();
console.log(`untrained prior of the same configuration (init seed ${trained.config.train.seed}): 8 ddpm steps: spread ${(await spread(untrained, 8, 'ddpm')).toFixed(3)}`);
for (const p of [trained, untrained]) disposePrior(p);
process.exit(0);
