// The retrieval metrics (eval/retrieval.ts) against a float64 reference written from the definitions:
// for each query, the 1-based rank of its own target among all targets by cosine.
import { describe, expect, it } from 'vitest';
import { retrievalRecall, scoreEmbeddings } from '@sd/models';
import { makeRng, uniform } from '../util/random.ts';

function unit(x: Float32Array, dim: number): Float64Array[] {
  return Array.from({ length: x.length / dim }, (_, r) => {
    const row = Float64Array.from(x.subarray(r * dim, (r + 1) * dim));
    const n = Math.hypot(...row);
    return row.map((v) => v / n);
  });
}
const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, d) => s + v * b[d]!, 0);
function ranks(queries: Float64Array[], targets: Float64Array[]): number[] {
  return queries.map((q, i) => 1 + targets.filter((t, j) => j !== i && dot(q, t) > dot(q, targets[i]!)).length);
}

describe('retrieval metrics', () => {
  const dim = 6;
  const count = 40;
  const rng = makeRng(3);
  const image = uniform(rng, count * dim);
  // Text and generated embeddings near their image, so ranks spread over 1…count.
  const text = Float32Array.from(image, (v) => v + 1.2 * (rng() - 0.5));
  const generated = Float32Array.from(image, (v) => v + 0.9 * (rng() - 0.5));

  it('scoreEmbeddings: mean cosines, recall@1/5 and mean rank', () => {
    const g = unit(generated, dim);
    const img = unit(image, dim);
    const txt = unit(text, dim);
    const r = ranks(g, img);
    const m = scoreEmbeddings(generated, { text, image, dim, count });
    expect(m.count).toBe(count);
    expect(m.cosineToImage).toBeCloseTo(g.reduce((s, row, i) => s + dot(row, img[i]!), 0) / count, 5);
    expect(m.cosineToText).toBeCloseTo(g.reduce((s, row, i) => s + dot(row, txt[i]!), 0) / count, 5);
    expect(m.recallAt1).toBe(r.filter((k) => k === 1).length / count);
    expect(m.recallAt5).toBe(r.filter((k) => k <= 5).length / count);
    expect(m.meanRank).toBe(r.reduce((a, b) => a + b, 0) / count);
    expect(m.recallAt1).toBeGreaterThan(0);
    expect(m.recallAt1).toBeLessThan(1);
  });

  it('retrievalRecall: text→image recall@1/5', () => {
    const r = ranks(unit(text, dim), unit(image, dim));
    const got = retrievalRecall(Float32Array.from(image), Float32Array.from(text), dim);
    expect(got).toEqual({ recallAt1: r.filter((k) => k === 1).length / count, recallAt5: r.filter((k) => k <= 5).length / count, count });
    expect(got.recallAt5).toBeGreaterThan(got.recallAt1);
  });

  it('ties rank in the query\'s favour: a duplicate of the true image does not push it down', () => {
    // Images 0 and 1 are the same vector; image 2 is another. Generated 0 equals image 0 (cosine 1
    // to both 0 and 1): rank 1. Generated 1 equals image 2: images 0 and 1 lie strictly below it… and
    // its own image (1) is beaten by image 2 alone: rank 2. Generated 2 is orthogonal to everything
    // but image 2's direction: rank 1.
    const image = Float32Array.from([1, 0, 0, 1, 0, 0, 0, 1, 0]);
    const generated = Float32Array.from([1, 0, 0, 0, 1, 0, 0, 1, 0]);
    const text = Float32Array.from(image);
    const m = scoreEmbeddings(generated, { text, image, dim: 3, count: 3 });
    expect(m.meanRank).toBeCloseTo((1 + 2 + 1) / 3, 12);
    expect(m.recallAt1).toBeCloseTo(2 / 3, 12);
    // The float64 reference agrees on this input, ties included.
    const r = ranks(unit(generated, 3), unit(image, 3));
    expect(r).toEqual([1, 2, 1]);
  });
});
