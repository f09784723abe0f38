// The zero-shot decision rules (classifyZeroShot) against float64 references written from their
// definitions: 'marginal' = argmax of Σ_prompts softmax(s·cos) over all prompts, 'mean' = argmax of
// cos with the normalised mean prompt.
import { describe, expect, it } from 'vitest';
import { classifyZeroShot } from '@sd/models';
import { makeRng } from '../util/random.ts';

function unitRandomRows(rows: number, dim: number, next: () => number): Float32Array {
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const v = Array.from({ length: dim }, () => next() - 0.5);
    const norm = Math.hypot(...v);
    v.forEach((x, d) => (out[r * dim + d] = x / norm));
  }
  return out;
}

const dot = (a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number, dim: number) => {
  let s = 0;
  for (let d = 0; d < dim; d++) s += a[i * dim + d] * b[j * dim + d];
  return s;
};
const argmax = (xs: number[]) => xs.indexOf(Math.max(...xs));

describe('classifyZeroShot', () => {
  it('marginal picks the class of the one matching caption; mean is swayed by the average', () => {
    const image = Float32Array.of(1, 0);
    const exactAmongOpposites = Float32Array.of(1, 0, -1, 0); // mean is zero
    const nearOnAverage = Float32Array.of(0.6, 0.8, 0.6, -0.8); // mean points at the image
    const classes = [exactAmongOpposites, nearOnAverage];
    expect(classifyZeroShot(image, classes, 2, 'marginal', 10)).toEqual([0]);
    expect(classifyZeroShot(image, classes, 2, 'mean', 10)).toEqual([1]);
  });

  it('matches the float64 definitions on random embeddings', () => {
    const next = makeRng(11);
    const [dim, n, scale] = [8, 50, 30];
    const images = unitRandomRows(n, dim, next);
    const classes = [3, 5, 1, 4].map((p) => unitRandomRows(p, dim, next));
    const marginal = classifyZeroShot(images, classes, dim, 'marginal', scale);
    const mean = classifyZeroShot(images, classes, dim, 'mean', scale);
    for (let i = 0; i < n; i++) {
      const all = classes.flatMap((prompts) => Array.from({ length: prompts.length / dim }, (_, p) => scale * dot(images, i, prompts, p, dim)));
      const z = all.reduce((acc, l) => acc + Math.exp(l), 0);
      const probability = classes.map((prompts) => Array.from({ length: prompts.length / dim }, (_, p) => Math.exp(scale * dot(images, i, prompts, p, dim)) / z).reduce((a, b) => a + b, 0));
      expect(marginal[i]).toBe(argmax(probability));
      const cosToMean = classes.map((prompts) => {
        const m = Array.from({ length: dim }, (_, d) => Array.from({ length: prompts.length / dim }, (_, p) => prompts[p * dim + d]).reduce((a, b) => a + b, 0));
        return dot(images, i, m, 0, dim) / Math.hypot(...m);
      });
      expect(mean[i]).toBe(argmax(cosToMean));
    }
    // The rules are not the same rule in disguise.
    expect(marginal).not.toEqual(mean);
  });
});
