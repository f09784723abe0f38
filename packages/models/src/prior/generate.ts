// Sampling image embeddings from text embeddings with a trained prior (guided, batched).
import { full, noGrad, tensor, tidy } from '@sd/autograd';
import { guide, sample, type SampleOptions } from './diffusion.ts';
import { assignClusters } from './shift.ts';
import { priorGenerator } from './rng.ts';
import type { PriorBundle } from './train.ts';

export interface GenerateOptions {
  /** Sampling steps (the seed uses 8). */
  steps?: number;
  /** Classifier-free guidance weight w (1 = no guidance). */
  guidance?: number;
  seed?: number;
  sampler?: SampleOptions['sampler'];
  eta?: number;
  batchSize?: number;
}

/** Cluster of each text (the mean with the highest cosine to the text embedding; 0 for the baseline). */
export function clustersFor(bundle: PriorBundle, text: Float32Array): Int32Array {
  const n = text.length / bundle.diffusion.stats.dim;
  return bundle.config.train.baseline ? new Int32Array(n) : assignClusters(bundle.diffusion.stats, text);
}

/** Image embeddings [N, D] for text embeddings [N, D]. */
export async function generateEmbeddings(bundle: PriorBundle, text: Float32Array, options: GenerateOptions = {}): Promise<Float32Array> {
  const { steps = 8, guidance = 1, seed = 0, sampler = 'ddpm', eta, batchSize = 256 } = options;
  const dim = bundle.diffusion.stats.dim;
  if (text.length % dim !== 0) throw new Error(`generate: ${text.length} values are not rows of the prior's dimension ${dim}`);
  const n = text.length / dim;
  const out = new Float32Array(n * dim);
  const clusters = clustersFor(bundle, text);
  // The sampling stream, not the one the weights were initialised from.
  const generator = priorGenerator(seed, 'sample');
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const b = end - start;
    const result = tidy(() =>
      noGrad(() => {
        const textEmbedding = tensor(text.subarray(start * dim, end * dim), [b, dim]);
        const batchClusters = clusters.subarray(start, end);
        const { mu, s } = bundle.diffusion.shiftOf(batchClusters);
        const keep = full([b, 1], 1);
        const drop = full([b, 1], 0);
        const denoise = (xt: Parameters<typeof bundle.model.forward>[0]['xt'], t: number) => {
          const timesteps = new Int32Array(b).fill(t);
          const inputs = { xt, timesteps, clusters: batchClusters, textEmbedding };
          const cond = bundle.model.forward({ ...inputs, keepText: keep });
          if (guidance === 1) return cond;
          return guide(cond, bundle.model.forward({ ...inputs, keepText: drop }), guidance);
        };
        return sample(bundle.diffusion, denoise, mu, s, { steps, generator, sampler, eta });
      }),
    );
    out.set((await result.read()) as Float32Array, start * dim);
    result.dispose();
  }
  return out;
}
