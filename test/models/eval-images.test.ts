// The pieces of the image-level evaluation: the scenes behind an embedded split (regenerated exactly
// as `sd build-embedded` encoded them), fresh renders of the same scenes, the judge labels of what a
// caption names, and paired comparisons of two arms against hand-computed answers.
import { describe, expect, it } from 'vitest';
import {
  HEAD_NAMES, UNLABELLED, captionLabels, captionMentions, compareImageArms, embedImages, embedTexts, embeddedDataDir, judgeLabels, loadDefaultClip, loadEmbeddingPairs,
  replaceScene, splitScenes, type EvalReference, type JudgeHead, type PerCaption,
} from '@sd/models';
import { join } from 'node:path';
import { makeRng } from '../util/random.ts';

const unit = (x: Float32Array, dim: number) => {
  for (let r = 0; r < x.length / dim; r++) {
    const n = Math.hypot(...x.subarray(r * dim, (r + 1) * dim));
    for (let d = 0; d < dim; d++) x[r * dim + d] /= n;
  }
  return x;
};

describe('image-level evaluation', () => {
  it('splitScenes regenerates the captions and renders the committed validation split was encoded from', async () => {
    const n = 6;
    const scenes = splitScenes('validation', n);
    const stored = loadEmbeddingPairs(join(embeddedDataDir(), 'validation'));
    const clip = loadDefaultClip();
    const dim = stored.dim;
    const text = unit(await embedTexts(clip, scenes.captions), dim);
    const image = unit(await embedImages(clip, Array.from({ length: n }, (_, i) => ({ data: scenes.real.pixels.subarray(i * 64 * 64 * 3, (i + 1) * 64 * 64 * 3), width: 64, height: 64 }))), dim);
    for (let i = 0; i < n * dim; i++) {
      expect(text[i]).toBeCloseTo(stored.text[i], 4);
      expect(image[i]).toBeCloseTo(stored.image[i], 4);
    }
    // Fresh renders show the same scenes placed anew: other pixels, same classes.
    expect(Array.from(scenes.fresh.pixels)).not.toEqual(Array.from(scenes.real.pixels));
    for (const p of clip.parameters()) p.dispose();
  });

  it('replaceScene keeps every class and the background, and draws jitter, size and rotation again', () => {
    const scenes = splitScenes('test', 40);
    for (const a of scenes.attributes) {
      const b = replaceScene(a, makeRng(5));
      expect(judgeLabels(b)).toEqual(judgeLabels(a));
      expect(b.objects.map((o) => [o.shape, o.colour, o.size, o.position])).toEqual(a.objects.map((o) => [o.shape, o.colour, o.size, o.position]));
      expect(b.objects[0].x).not.toBe(a.objects[0].x);
    }
  });

  it('captionLabels keeps what a caption names: size, position and background only where named', () => {
    const scenes = splitScenes('test', 60);
    const labels = captionLabels(scenes);
    let unnamed = 0;
    scenes.attributes.forEach((a, i) => {
      const all = judgeLabels(a);
      const m = captionMentions(scenes.captions[i]);
      expect(labels.count[i]).toBe(all.count);
      expect(labels.shape[i]).toBe(all.shape);
      expect(labels.colour[i]).toBe(all.colour);
      for (const h of ['size', 'position', 'background'] as const) {
        expect(labels[h][i]).toBe(m[h] ? all[h] : UNLABELLED);
        if (!m[h]) unnamed++;
      }
    });
    expect(unnamed).toBeGreaterThan(0); // the split does hold under-specifying captions
  });

  it('compareImageArms: accuracy differences over named captions only, a clear winner, and no difference for equal arms', () => {
    const n = 50;
    const features = 3;
    const rng = makeRng(9);
    const labels = Object.fromEntries(HEAD_NAMES.map((h) => [h, Int32Array.from({ length: n }, (_, i) => (h === 'position' && i % 2 ? UNLABELLED : 0))])) as Record<JudgeHead, Int32Array>;
    const ref = { labels, freshFeatures: Float32Array.from({ length: n * features }, () => rng()) } as unknown as EvalReference;
    const arm = (right: (h: JudgeHead, i: number) => boolean, shift: number): PerCaption => ({
      correct: Object.fromEntries(HEAD_NAMES.map((h) => [h, Float64Array.from({ length: n }, (_, i) => (labels[h][i] === UNLABELLED ? NaN : Number(right(h, i))))])) as Record<JudgeHead, Float64Array>,
      clipImageText: Float64Array.from({ length: n }, (_, i) => 0.5 + shift + 0.01 * (i % 7)),
      clipImageImage: Float64Array.from({ length: n }, () => 0.7),
      features: Float32Array.from({ length: n * features }, () => rng() + shift),
    });
    // A: every head right; B: position right on the first 5 of the 25 named captions only, the rest right.
    const a = arm(() => true, 0.1);
    const b = arm((h, i) => h !== 'position' || i < 10, 0);
    const c = compareImageArms(a, b, ref, features, { resamples: 200, seed: 1, fidResamples: 50 });
    expect(c['judge position'].estimate).toBeCloseTo(1 - 5 / 25, 12);
    expect(c['judge position'].verdict).toBe('A higher');
    expect(c['judge shape'].estimate).toBe(0);
    expect(c['judge all named'].estimate).toBeCloseTo(20 / 50, 12);
    expect(c['CLIP image–text'].estimate).toBeCloseTo(0.1, 12);
    expect(c['CLIP image–text'].verdict).toBe('A higher');
    const same = compareImageArms(b, b, ref, features, { resamples: 200, seed: 1, fidResamples: 50 });
    for (const k of Object.keys(same) as (keyof typeof same)[]) {
      expect(same[k].estimate, k).toBe(0);
      expect(same[k].verdict, k).toBe('no difference');
    }
    // Two training seeds per arm: each estimate is the mean over seeds of the per-seed A − B (judge-FID
    // included); a seed given twice changes nothing.
    const a2 = arm((h, i) => h !== 'shape' || i % 3 > 0, 0.3);
    const seeded = compareImageArms([a, a2], [b, b], ref, features, { resamples: 200, seed: 1, fidResamples: 50 });
    const second = compareImageArms(a2, b, ref, features, { resamples: 200, seed: 1, fidResamples: 50 });
    for (const k of Object.keys(seeded) as (keyof typeof seeded)[]) expect(seeded[k].estimate, k).toBeCloseTo((c[k].estimate + second[k].estimate) / 2, 10);
    expect(compareImageArms([a, a], [b, b], ref, features, { resamples: 200, seed: 1, fidResamples: 50 })).toEqual(c);
    expect(() => compareImageArms([a, a2], [b], ref, features)).toThrow('compareImageArms: 2 and 1 seeds (need the same, at least one)');
  });
});
