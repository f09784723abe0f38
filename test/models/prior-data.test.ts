// Shift statistics (k-means on cosine) and the embedding-pair readers, including every bad input.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy, writeNpy } from '@sd/io';
import { listShards, loadEmbeddingPairs } from '../../packages/models/src/prior/data.ts';
import { assignClusters, computeShiftStats } from '../../packages/models/src/prior/shift.ts';
import { makeRng, normal } from '../util/random.ts';

describe('shift statistics', () => {
  it('k-means on cosine recovers well-separated directions and their per-dimension std', () => {
    const rng = makeRng(1);
    const dim = 8;
    const centers = [0, 3, 6].map((axis) => Float32Array.from({ length: dim }, (_, d) => (d === axis ? 10 : 0)));
    const n = 300;
    const data = new Float32Array(n * dim);
    const truth = new Int32Array(n);
    const noise = normal(rng, n * dim, 0.5);
    for (let i = 0; i < n; i++) {
      truth[i] = i % 3;
      for (let d = 0; d < dim; d++) data[i * dim + d] = centers[truth[i]][d] + noise[i * dim + d];
    }
    const stats = computeShiftStats(data, dim, 3, { seed: 4 });
    const assigned = assignClusters(stats, data);
    // Same partition up to relabelling.
    const map = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      if (!map.has(truth[i])) map.set(truth[i], assigned[i]);
      expect(assigned[i]).toBe(map.get(truth[i]));
    }
    expect(stats.counts).toEqual([100, 100, 100]);
    for (let c = 0; c < 3; c++) for (let d = 0; d < dim; d++) {
      expect(Math.abs(stats.std[c * dim + d] - 0.5)).toBeLessThan(0.15);
    }
  });

  it('K = 1 gives the global mean and std; K > N is an error', () => {
    const data = Float32Array.from([1, 2, 3, 6]);
    const stats = computeShiftStats(data, 2, 1);
    expect(Array.from(stats.mean)).toEqual([2, 4]);
    expect(Array.from(stats.std)).toEqual([1, 2]);
    expect(() => computeShiftStats(data, 2, 3)).toThrow('K = 3 clusters requested but only 2 samples');
  });
});

describe('embedding files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sd-pairs-'));

  it('.npy round trip, and float64/float16/int readers', () => {
    const data = Float32Array.from([1, -2.5, 3.25, 0, 1e-3, 7]);
    const parsed = parseNpy(encodeNpy(data, [2, 3]));
    expect(parsed.shape).toEqual([2, 3]);
    expect(Array.from(parsed.data)).toEqual(Array.from(data));
  });

  it('reads a clip-retrieval folder shard by shard in numeric order', () => {
    const root = join(dir, 'retrieval');
    mkdirSync(join(root, 'img_emb'), { recursive: true });
    mkdirSync(join(root, 'text_emb'), { recursive: true });
    for (const shard of [0, 1, 10, 2]) {
      writeNpy(join(root, 'img_emb', `img_emb_${shard}.npy`), Float32Array.from([shard, shard]), [1, 2]);
      writeNpy(join(root, 'text_emb', `text_emb_${shard}.npy`), Float32Array.from([-shard, -shard]), [1, 2]);
    }
    expect(listShards(root).map((s) => s.imageFile.split('/').pop())).toEqual(['img_emb_0.npy', 'img_emb_1.npy', 'img_emb_2.npy', 'img_emb_10.npy']);
    const pairs = loadEmbeddingPairs(root);
    expect(pairs.count).toBe(4);
    expect(Array.from(pairs.image)).toEqual([0, 0, 1, 1, 2, 2, 10, 10]);
    expect(Array.from(pairs.text)).toEqual([-0, -0, -1, -1, -2, -2, -10, -10]);
  });

  function flat(name: string, image: [Float32Array, number[]], text: [Float32Array, number[]]): string {
    const root = join(dir, name);
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'image_embeddings.npy'), encodeNpy(...image));
    writeFileSync(join(root, 'text_embeddings.npy'), encodeNpy(...text));
    return root;
  }

  it('rejects mismatched row counts, dimensions, NaN/Inf rows, empty sets, and corrupt files', () => {
    const rows = flat('rows', [new Float32Array(6), [3, 2]], [new Float32Array(4), [2, 2]]);
    expect(() => loadEmbeddingPairs(rows)).toThrow(/has 3 rows but .*text_embeddings.npy has 2/);
    const dims = flat('dims', [new Float32Array(6), [2, 3]], [new Float32Array(4), [2, 2]]);
    expect(() => loadEmbeddingPairs(dims)).toThrow(/has dimension 3 but .* has 2/);
    const nan = flat('nan', [Float32Array.from([0, 0, NaN, 1]), [2, 2]], [new Float32Array(4), [2, 2]]);
    expect(() => loadEmbeddingPairs(nan)).toThrow(/image_embeddings.npy: row 1 contains NaN/);
    const inf = flat('inf', [new Float32Array(4), [2, 2]], [Float32Array.from([0, 0, 0, Infinity]), [2, 2]]);
    expect(() => loadEmbeddingPairs(inf)).toThrow(/text_embeddings.npy: row 1 contains Infinity/);
    const empty = flat('empty', [new Float32Array(0), [0, 2]], [new Float32Array(0), [0, 2]]);
    expect(() => loadEmbeddingPairs(empty)).toThrow('the dataset is empty');
    const corrupt = join(dir, 'corrupt');
    mkdirSync(corrupt);
    writeFileSync(join(corrupt, 'image_embeddings.npy'), encodeNpy(new Float32Array(4), [2, 2]).subarray(0, 140));
    writeFileSync(join(corrupt, 'text_embeddings.npy'), encodeNpy(new Float32Array(4), [2, 2]));
    expect(() => loadEmbeddingPairs(corrupt)).toThrow(/image_embeddings.npy: not a readable .npy file: data is \d+ bytes but shape \(2, 2\) of <f4 needs 16/);
    expect(() => loadEmbeddingPairs(join(dir, 'missing'))).toThrow('no such embeddings folder');
  });
});
