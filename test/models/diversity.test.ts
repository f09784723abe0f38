// Per-caption diversity: the spread of a group of embeddings against known geometry, the summary's
// ratios, and the real scenes of a caption (sceneForCaption): what the caption names is kept, the
// rest varies as the dataset draws it.
import { describe, expect, it } from 'vitest';
import {
  backgroundsFor, captionMentions, captionRenders, compareDiversity, embeddedSplitRow, groupSpread, sceneForCaption, summarizeDiversity, type SampleAttributes,
} from '@sd/models';
import { mulberry32 } from '../../packages/models/src/data/prng.ts';

describe('groupSpread', () => {
  it('orthogonal rows are √2 apart, rows along one direction 0, rows at angle θ 2·sin(θ/2) — whatever their lengths', () => {
    const dim = 4;
    const basis = Float32Array.from([3, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 2, 0]); // 3 orthogonal rows of different lengths
    const same = Float32Array.from([1, 2, 3, 4, 2, 4, 6, 8, 0.1, 0.2, 0.3, 0.4]);
    const theta = 0.7;
    const angled = Float32Array.from([1, 0, 0, 0, Math.cos(theta), Math.sin(theta), 0, 0]);
    const spreads = groupSpread(Float32Array.from([...basis, ...same]), 2, 3, dim);
    expect(spreads[0]).toBeCloseTo(Math.SQRT2, 6);
    expect(spreads[1]).toBeCloseTo(0, 6);
    expect(groupSpread(angled, 1, 2, dim)[0]).toBeCloseTo(2 * Math.sin(theta / 2), 6);
  });

  it('refuses groups of one row and sizes that do not add up', () => {
    expect(() => groupSpread(new Float32Array(4), 2, 1, 2)).toThrow(/at least 2 rows per group/);
    expect(() => groupSpread(new Float32Array(10), 2, 2, 2)).toThrow(/10 values are not 2 groups × 2 rows × 2/);
  });
});

describe('summarizeDiversity and compareDiversity', () => {
  it('the mean spread and the mean per-caption ratio to the real spread (captions with no real spread left out of the ratio)', () => {
    const real = Float64Array.from([0.2, 0.4, 0]);
    const generated = Float64Array.from([0.1, 0.4, 0.3]);
    const s = summarizeDiversity(generated, real);
    expect(s.spread).toBeCloseTo((0.1 + 0.4 + 0.3) / 3, 12);
    expect(s.ratio).toBeCloseTo((0.5 + 1) / 2, 12);
    expect(summarizeDiversity(generated, real, [1, 1]).ratio).toBeCloseTo(1, 12);
  });

  it('a paired interval of the ratio difference: excludes 0 when one arm is always more diverse, and says so', () => {
    const real = Float64Array.from({ length: 50 }, (_, i) => 0.3 + 0.01 * (i % 7));
    const wide = Float64Array.from(real, (r, i) => r * (0.9 + 0.02 * (i % 5)));
    const narrow = Float64Array.from(wide, (w) => w * 0.5);
    const c = compareDiversity(wide, narrow, real, { resamples: 200 });
    expect(c.estimate).toBeCloseTo(summarizeDiversity(wide, real).ratio - summarizeDiversity(narrow, real).ratio, 12);
    expect(c.low).toBeGreaterThan(0);
    expect(c.verdict).toBe('higher');
  });
});

describe('sceneForCaption', () => {
  const row = (i: number) => embeddedSplitRow('test', i);
  const signature = (a: SampleAttributes) => JSON.stringify({ bg: a.background, o: a.objects.map((o) => [o.shape, o.colour, o.size, o.position]) });

  it('keeps what the caption names and draws the rest again, as the dataset does', () => {
    let checked = 0;
    for (let i = 0; i < 200; i++) {
      const { sample, caption } = row(i);
      const mentions = captionMentions(caption);
      const original = sample.attributes;
      const seen = new Set<string>();
      for (let k = 0; k < 12; k++) {
        const s = sceneForCaption(original, mentions, mulberry32(1000 * i + k));
        seen.add(signature(s));
        expect(s.objects.map((o) => [o.shape, o.colour])).toEqual(original.objects.map((o) => [o.shape, o.colour]));
        if (mentions.size) expect(s.objects.map((o) => o.size)).toEqual(original.objects.map((o) => o.size));
        if (mentions.position) expect(s.objects.map((o) => o.position)).toEqual(original.objects.map((o) => o.position));
        if (mentions.background) expect(s.background).toBe(original.background);
        expect(backgroundsFor(s.objects.map((o) => o.colour))).toContain(s.background);
        expect(new Set(s.objects.map((o) => o.position)).size).toBe(s.objects.length);
      }
      // A caption that leaves something free gets other scenes; one that pins down size, position
      // and background only other placements of the same attributes.
      const free = !mentions.size || !mentions.position || !mentions.background;
      expect(seen.size > 1, `${caption}: ${[...seen].join(' ')}`).toBe(free);
      checked += free ? 1 : 0;
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('captionRenders: perCaption different renders per caption, the same for the same scenes', () => {
    const rows = [0, 1, 2].map(row);
    const scenes = { attributes: rows.map((r) => r.sample.attributes), mentions: rows.map((r) => captionMentions(r.caption)) };
    const a = captionRenders(scenes, 3, 4);
    expect([a.count, a.side, a.pixels.length]).toEqual([12, 64, 12 * 64 * 64 * 3]);
    expect(Buffer.from(captionRenders(scenes, 3, 4).pixels).equals(Buffer.from(a.pixels))).toBe(true);
    const image = (k: number) => Buffer.from(a.pixels.subarray(k * 64 * 64 * 3, (k + 1) * 64 * 64 * 3));
    for (let caption = 0; caption < 3; caption++) {
      for (let k = 1; k < 4; k++) expect(image(caption * 4 + k).equals(image(caption * 4)), `caption ${caption}, render ${k}`).toBe(false);
    }
  });
});
