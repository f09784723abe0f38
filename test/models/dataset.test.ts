// The procedural captioned-shapes dataset: determinism, coverage, captions, splits, rendering,
// zero-shot helpers, and imagefolder export/import with its error messages.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { crc32, deflateSync } from 'node:zlib';
import { tokenize } from '../../packages/models/src/clip/tokenizer.ts';
import { clipBatch } from '../../packages/models/src/clip/train.ts';
import { mulberry32 } from '../../packages/models/src/data/prng.ts';
import { captionMentions, captionsNaming } from '../../packages/models/src/data/captions.ts';
import {
  ALL_PAIRS, BACKGROUNDS, BACKGROUND_NAMES, COLOURS, COLOUR_NAMES, COLOUR_WORDS, HELD_OUT_PAIRS, POSITIONS, SHAPES,
  SHAPE_WORDS, SIZES, SIZE_RADIUS, SIZE_WORDS, POSITION_PHRASES, POSITION_LABELS, BACKGROUND_WORDS, SIZE_JITTER, TRAIN_PAIRS, ZERO_SHOT_ATTRIBUTES,
  backgroundsFor, contrastGroup, decodeRgb, encodeRgbPng, exportImageFolder, generateSample, groundTruthClass, isHeldOut,
  iterateSamples, readImageFolder, renderScene, sampleAttributes, zeroShotTask,
  type ColourName, type Resolution, type Sample, type SampleAttributes, type ShapeName,
} from '../../packages/models/src/data/index.ts';

// jpeg-js is a dependency of @sd/models, not of the repository root where the tests live.
const jpeg = createRequire(new URL('../../packages/models/package.json', import.meta.url))('jpeg-js') as {
  encode(image: { width: number; height: number; data: Uint8Array }, quality: number): { data: Uint8Array };
};

/** A minimal PNG writer, independent of the library under test: IHDR, optional PLTE, one IDAT. */
function handPng(width: number, height: number, colourType: number, depth: number, rows: number[][], palette?: number[]): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([depth, colourType, 0, 0, 0], 8);
  const raw = Buffer.from(rows.flatMap((r) => [0, ...r])); // filter type 0 on every row
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...(palette ? [chunk('PLTE', Buffer.from(palette))] : []),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

const pixel = (s: { image: Uint8Array; width: number }, x: number, y: number) =>
  Array.from(s.image.subarray((y * s.width + x) * 3, (y * s.width + x) * 3 + 3));

/** Whole-word (or whole-phrase) match, so "red" does not match inside "centred". */
const mentions = (caption: string, phrases: readonly string[]) =>
  phrases.some((p) => new RegExp(`(^|[^a-z-])${p}($|[^a-z-])`).test(caption));

function collect(n: number, options: Parameters<typeof generateSample>[1]): Sample[] {
  return [...iterateSamples(options, 0, n)];
}

describe('determinism', () => {
  it('same (seed, index) gives identical bytes and captions; order of generation does not matter', () => {
    const forward = [0, 1, 2, 3, 4, 1000, 123456789].map((i) => generateSample(i, { seed: 5 }));
    const backward = [123456789, 1000, 4, 3, 2, 1, 0].map((i) => generateSample(i, { seed: 5 })).reverse();
    for (let k = 0; k < forward.length; k++) {
      expect(Buffer.from(backward[k].image).equals(Buffer.from(forward[k].image))).toBe(true);
      expect(backward[k].captions).toEqual(forward[k].captions);
      expect(backward[k].attributes).toEqual(forward[k].attributes);
    }
  });

  it('different seeds (and neighbouring indices) give different samples', () => {
    let differentSeed = 0, differentIndex = 0;
    for (let i = 0; i < 20; i++) {
      const a = generateSample(i, { seed: 1 }), b = generateSample(i, { seed: 2 }), c = generateSample(i + 1, { seed: 1 });
      if (!Buffer.from(a.image).equals(Buffer.from(b.image))) differentSeed++;
      if (!Buffer.from(a.image).equals(Buffer.from(c.image))) differentIndex++;
    }
    expect(differentSeed).toBe(20);
    expect(differentIndex).toBe(20);
  });

  it('is pinned: the first samples of seed 0 hash to a fixed value on every machine', () => {
    const hash = createHash('sha256');
    for (const s of collect(16, { seed: 0 })) {
      hash.update(s.image);
      hash.update(s.captions.join('|'));
    }
    for (const s of collect(16, { seed: 0, resolution: 32, split: 'heldout' })) hash.update(s.image);
    // If this changes on purpose (new templates, palette, rasteriser), update it: datasets made before differ.
    expect(hash.digest('hex')).toBe(PINNED_HASH);
  });

  it('resolution changes only the pixels, not the scene', () => {
    for (let i = 0; i < 20; i++) {
      const a = generateSample(i, { seed: 9, resolution: 64 }), b = generateSample(i, { seed: 9, resolution: 32 });
      expect(b.attributes).toEqual(a.attributes);
      expect(b.captions).toEqual(a.captions);
      expect([a.width, a.height, a.image.length, b.width, b.height, b.image.length]).toEqual([64, 64, 64 * 64 * 3, 32, 32, 32 * 32 * 3]);
    }
  });

  it('rejects bad options with a clear message', () => {
    expect(() => generateSample(-1, { seed: 0 })).toThrow(/index must be a non-negative integer, got -1/);
    expect(() => generateSample(1.5, { seed: 0 })).toThrow(/index/);
    expect(() => generateSample(0, { seed: 0.5 })).toThrow(/seed must be a non-negative integer/);
    expect(() => generateSample(0, { seed: 0, resolution: 48 as Resolution })).toThrow(/resolution must be 64 or 32, got 48/);
    expect(() => generateSample(0, { seed: 0, split: 'test' as 'train' })).toThrow(/split must be 'train' or 'heldout'/);
    expect(() => generateSample(0, { seed: 0, objectCount: 3 as 1 })).toThrow(/objectCount must be 1, 2 or 'mixed'/);
  });
});

// sha256 of seed 0's first 16 samples (64×64 images and captions) and first 16 held-out 32×32 images.
const PINNED_HASH = '3670b996544dd466779a6ae08b1b549938ca5425efdfd2f1b7124f720b9396d2';

describe('coverage and captions', () => {
  let train: Sample[];
  beforeAll(() => {
    train = collect(4000, { seed: 3 });
  });

  it('covers every attribute value, every training pair, both object counts', () => {
    const seen = (f: (s: Sample) => string[]) => new Set(train.flatMap(f));
    expect(seen((s) => s.attributes.objects.map((o) => o.shape))).toEqual(new Set(SHAPES));
    expect(seen((s) => s.attributes.objects.map((o) => o.colour))).toEqual(new Set(COLOUR_NAMES));
    expect(seen((s) => s.attributes.objects.map((o) => o.size))).toEqual(new Set(SIZES));
    expect(seen((s) => s.attributes.objects.map((o) => o.position))).toEqual(new Set(POSITIONS));
    expect(seen((s) => [s.attributes.background])).toEqual(new Set(BACKGROUND_NAMES));
    expect(seen((s) => s.attributes.objects.map((o) => `${o.shape}/${o.colour}`)).size).toBe(TRAIN_PAIRS.length);
    const twoObjects = train.filter((s) => s.attributes.objects.length === 2).length / train.length;
    expect(twoObjects).toBeGreaterThan(0.25);
    expect(twoObjects).toBeLessThan(0.35);
  });

  it('every caption names the colour and shape of every object; sizes, positions, backgrounds appear too', () => {
    for (const s of train.slice(0, 1500)) {
      expect(s.captions.length).toBeGreaterThanOrEqual(5);
      expect(new Set(s.captions).size).toBe(s.captions.length);
      for (const caption of s.captions) {
        for (const o of s.attributes.objects) {
          expect(mentions(caption, COLOUR_WORDS[o.colour]), `${caption} lacks ${o.colour}`).toBe(true);
          expect(mentions(caption, SHAPE_WORDS[o.shape]), `${caption} lacks ${o.shape}`).toBe(true);
        }
        // Another object's colour word must not sneak in (e.g. through a background synonym).
        const named = COLOUR_NAMES.filter((c) => mentions(caption, COLOUR_WORDS[c]));
        expect(new Set(named)).toEqual(new Set(s.attributes.objects.map((o) => o.colour)));
      }
      const all = s.captions.join(' | ');
      for (const o of s.attributes.objects) {
        expect(mentions(all, [...POSITION_PHRASES[o.position], ...POSITION_LABELS[o.position]]), `${all}: ${o.position}`).toBe(true);
        expect(mentions(all, SIZE_WORDS[o.size]), `${all}: ${o.size}`).toBe(true);
      }
      expect(mentions(all, BACKGROUND_WORDS[s.attributes.background]), `${all}: ${s.attributes.background}`).toBe(true);
    }
  });

  it('captions fit CLIP’s 77-token context with room to spare', () => {
    const captions = train.flatMap((s) => s.captions);
    const batch = tokenize(captions);
    expect(batch.truncated).toBe(0);
    expect(Math.max(...batch.endPositions)).toBeLessThan(50);
  });

  it('two-object scenes use distinct positions, distinct pairs, and never overlap', () => {
    const pairs = collect(600, { seed: 4, objectCount: 2 });
    for (const s of pairs) {
      const [a, b] = s.attributes.objects;
      expect(a.position).not.toBe(b.position);
      expect(`${a.shape}/${a.colour}`).not.toBe(`${b.shape}/${b.colour}`);
      expect(Math.hypot(a.x - b.x, a.y - b.y)).toBeGreaterThanOrEqual(a.radius + b.radius);
    }
    expect(collect(50, { seed: 4, objectCount: 1 }).every((s) => s.attributes.objects.length === 1)).toBe(true);
  });
});

describe('held-out split', () => {
  it('held-out pairs: one per shape, distinct colours, so every shape and colour is still trained', () => {
    expect(new Set(HELD_OUT_PAIRS.map((p) => p.shape))).toEqual(new Set(SHAPES));
    expect(new Set(HELD_OUT_PAIRS.map((p) => p.colour)).size).toBe(HELD_OUT_PAIRS.length);
    expect(new Set(TRAIN_PAIRS.map((p) => p.colour))).toEqual(new Set(COLOUR_NAMES));
    expect(TRAIN_PAIRS.length + HELD_OUT_PAIRS.length).toBe(ALL_PAIRS.length);
  });

  it("never appear in 'train'; every object of a 'heldout' sample is one, and all of them occur", () => {
    for (const s of collect(3000, { seed: 11 })) {
      expect(isHeldOut(s.attributes)).toBe(false);
      for (const o of s.attributes.objects) expect(isHeldOut(o)).toBe(false);
    }
    const heldout = collect(1000, { seed: 11, split: 'heldout' });
    const seen = new Set<string>();
    for (const s of heldout) {
      expect(isHeldOut(s.attributes)).toBe(true);
      for (const o of s.attributes.objects) {
        expect(isHeldOut(o)).toBe(true);
        seen.add(`${o.shape}/${o.colour}`);
      }
    }
    expect(seen.size).toBe(HELD_OUT_PAIRS.length);
  });
});

describe('rendering', () => {
  const centred = (shape: ShapeName, colour: ColourName, background: SampleAttributes['background']): SampleAttributes => ({
    background,
    objects: [{ shape, colour, size: 'large', position: 'centre', x: 0.5, y: 0.5, radius: SIZE_RADIUS.large, rotation: 0 }],
  });

  it('a large centred object has its exact colour at the centre and the background in the corners', () => {
    for (const resolution of [64, 32] as const) {
      for (const shape of SHAPES) {
        for (const colour of COLOUR_NAMES) {
          const background = backgroundsFor([colour])[COLOUR_NAMES.indexOf(colour) % backgroundsFor([colour]).length];
          const image = { image: renderScene(centred(shape, colour, background), resolution), width: resolution };
          const c = resolution / 2;
          const bg = [...BACKGROUNDS[background]];
          for (const [x, y] of [[0, 0], [resolution - 1, 0], [0, resolution - 1], [resolution - 1, resolution - 1]]) {
            expect(pixel(image, x, y)).toEqual(bg);
          }
          if (shape === 'ring') {
            // The hole shows the background; the band (between radii 0.52 and 1) the colour.
            expect(pixel(image, c, c)).toEqual(bg);
            expect(pixel(image, Math.floor(c + 0.76 * SIZE_RADIUS.large * resolution), c)).toEqual([...COLOURS[colour]]);
          } else {
            for (const [x, y] of [[c - 1, c - 1], [c, c - 1], [c - 1, c], [c, c]]) expect(pixel(image, x, y)).toEqual([...COLOURS[colour]]);
          }
        }
      }
    }
  });

  it('generated large objects show their colour at their centre pixel (two-object scenes too)', () => {
    let checked = 0;
    for (const s of collect(500, { seed: 21 })) {
      for (const o of s.attributes.objects) {
        if (o.size !== 'large' || o.shape === 'ring') continue;
        expect(pixel(s, Math.floor(o.x * 64), Math.floor(o.y * 64))).toEqual([...COLOURS[o.colour]]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(200);
  });

  it('object colours are far apart and always contrast with the background', () => {
    for (const a of COLOUR_NAMES) {
      for (const b of COLOUR_NAMES) {
        if (a === b) continue;
        const d = Math.hypot(...COLOURS[a].map((v, i) => v - COLOURS[b][i]));
        expect(d, `${a} vs ${b}`).toBeGreaterThanOrEqual(90);
        expect(backgroundsFor([a, b]).length, `${a}+${b}`).toBeGreaterThanOrEqual(1);
      }
    }
  });

  it('size and position are unambiguous from the pixels (area classes and centroid cells never overlap)', () => {
    for (const resolution of [64, 32] as const) {
      const areas = new Map<string, number[]>();
      for (const s of collect(1500, { seed: 8, resolution, objectCount: 1 })) {
        const o = s.attributes.objects[0];
        const bg = BACKGROUNDS[s.attributes.background];
        // Coverage of a pixel: how far it moved from the background towards the object colour, in
        // the channel where the two differ most.
        const fg = COLOURS[o.colour];
        const channel = [0, 1, 2].reduce((best, ch) => (Math.abs(fg[ch] - bg[ch]) > Math.abs(fg[best] - bg[best]) ? ch : best), 0);
        let area = 0, sx = 0, sy = 0;
        for (let y = 0; y < resolution; y++) {
          for (let x = 0; x < resolution; x++) {
            const w = (s.image[(y * resolution + x) * 3 + channel] - bg[channel]) / (fg[channel] - bg[channel]);
            area += w; sx += w * (x + 0.5); sy += w * (y + 0.5);
          }
        }
        const cell = Math.min(2, Math.floor((3 * sy) / area / resolution)) * 3 + Math.min(2, Math.floor((3 * sx) / area / resolution));
        expect(POSITIONS[cell], `sample ${s.index}`).toBe(o.position);
        const key = `${o.shape}/${o.size}`;
        areas.set(key, [...(areas.get(key) ?? []), area / resolution ** 2]);
      }
      for (const shape of SHAPES) {
        const small = areas.get(`${shape}/small`)!, large = areas.get(`${shape}/large`)!;
        expect(Math.max(...small), `${shape} at ${resolution}`).toBeLessThan(0.85 * Math.min(...large));
      }
    }
    // The radius ranges themselves are disjoint.
    expect(SIZE_RADIUS.small * (1 + SIZE_JITTER)).toBeLessThan(SIZE_RADIUS.large * (1 - SIZE_JITTER));
  });

  it('renders 10,000 64×64 samples in seconds', () => {
    const start = performance.now();
    let checksum = 0;
    for (let i = 0; i < 10_000; i++) checksum += generateSample(i, { seed: 1 }).image[0];
    const seconds = (performance.now() - start) / 1000;
    console.log(`dataset: 10,000 samples at 64×64 (with captions) in ${seconds.toFixed(2)} s`);
    expect(checksum).toBeGreaterThan(0);
    expect(seconds).toBeLessThan(30);
  });
});

describe('contrast groups', () => {
  const otherAttributes = { colour: ['shape', 'position', 'size'], shape: ['colour', 'position', 'size'], position: ['shape', 'colour', 'size'], size: ['shape', 'colour', 'position'] } as const;
  const words = { colour: COLOUR_WORDS, shape: SHAPE_WORDS, size: SIZE_WORDS, position: POSITION_PHRASES } as const;

  it('scenes agree on all but one attribute, which takes distinct values named by every caption', () => {
    const sizes = new Map<string, Set<number>>();
    for (let seed = 0; seed < 60; seed++) {
      const rng = mulberry32(seed);
      for (const attribute of ZERO_SHOT_ATTRIBUTES) {
        const group = contrastGroup(rng, attribute, 8);
        const objects = group.map((g) => g.attributes.objects[0]);
        expect(group.every((g) => g.attributes.objects.length === 1)).toBe(true);
        expect(new Set(group.map((g) => g.attributes.background)).size).toBe(1);
        for (const other of otherAttributes[attribute]) expect(new Set(objects.map((o) => o[other])).size, `${attribute} group varies ${other}`).toBe(1);
        expect(new Set(objects.map((o) => o[attribute])).size).toBe(group.length);
        for (const g of group) {
          const o = g.attributes.objects[0];
          expect(isHeldOut(o)).toBe(false);
          expect(backgroundsFor([o.colour])).toContain(g.attributes.background);
          expect(Buffer.from(g.image).equals(Buffer.from(renderScene(g.attributes, 64)))).toBe(true);
          for (const caption of g.captions) {
            const phrases = attribute === 'position' ? [...POSITION_PHRASES[o.position], ...POSITION_LABELS[o.position]] : words[attribute][o[attribute] as never];
            expect(mentions(caption, phrases), `${caption} lacks ${o[attribute]}`).toBe(true);
            expect(mentions(caption, COLOUR_WORDS[o.colour]) && mentions(caption, SHAPE_WORDS[o.shape]), caption).toBe(true);
          }
        }
        sizes.set(attribute, (sizes.get(attribute) ?? new Set()).add(group.length));
      }
    }
    // Eight colours have one held-out shape (7 left), white and black none; 2 sizes; 9 positions, capped at 8.
    expect(sizes.get('shape')).toEqual(new Set([7, 8]));
    expect(sizes.get('size')).toEqual(new Set([2]));
    expect(sizes.get('position')).toEqual(new Set([8]));
    expect(Math.min(...sizes.get('colour')!)).toBeGreaterThanOrEqual(4);
  });

  it('CLIP batches: the contrast fraction is grouped, the rest random; each step is reproducible', () => {
    const settings = { steps: 1, batchSize: 20, lr: 0, weightDecay: 0, warmupSteps: 0, seed: 7, dataSeed: 1, logEvery: 1, checkpointEvery: 1, contrastFraction: 0.5 };
    const a = clipBatch(settings, 3, 32, 32);
    expect(a.pixels.length).toBe(20 * 3 * 32 * 32);
    expect(a.ids.length).toBe(20 * 32);
    expect(clipBatch(settings, 3, 32, 32)).toEqual(a);
    expect(clipBatch(settings, 4, 32, 32).ids).not.toEqual(a.ids);
    // The random half is the start of the plain random batch of the same step (the same stream).
    const plain = clipBatch({ ...settings, contrastFraction: 0 }, 3, 32, 32);
    expect(a.ids.slice(10 * 32)).toEqual(plain.ids.slice(0, 10 * 32));
    expect(a.ids.slice(0, 10 * 32)).not.toEqual(plain.ids.slice(10 * 32));
    expect(() => clipBatch({ ...settings, contrastFraction: 2 }, 0, 32, 32)).toThrow(/contrastFraction must be in \[0, 1\], got 2/);
    expect(() => clipBatch({ ...settings, contrastAttributes: ['shape', 'hue' as never] }, 0, 32, 32)).toThrow(/contrastAttributes must be some of colour, shape, position, size; got \[shape, hue\]/);
  });

  it('CLIP batches vary only the listed attributes', () => {
    // Size-only groups are pairs that share everything but size: the two images differ, their captions name the sizes.
    const settings = { steps: 1, batchSize: 8, lr: 0, weightDecay: 0, warmupSteps: 0, seed: 2, dataSeed: 1, logEvery: 1, checkpointEvery: 1, contrastFraction: 1, contrastAttributes: ['size'] as const };
    const { ids } = clipBatch(settings, 0, 32, 32);
    const captions = Array.from({ length: 8 }, (_, i) => [...ids.slice(i * 32, (i + 1) * 32)]);
    const sizeTokens = new Set(tokenize(['small tiny little large big huge']).ids.slice(1, 7));
    for (const c of captions) expect(c.filter((t) => sizeTokens.has(t)).length, 'one size word per caption').toBe(1);
  });
});

describe('zero-shot helpers', () => {
  it('lists classes and one prompt ensemble per class, all distinct', () => {
    const expected = { colour: COLOUR_NAMES, shape: SHAPES, position: POSITIONS, size: SIZES };
    for (const attribute of ZERO_SHOT_ATTRIBUTES) {
      const task = zeroShotTask(attribute);
      expect(task.classes).toEqual(expected[attribute]);
      expect(task.prompts.length).toBe(task.classes.length);
      const flat = task.prompts.flat();
      expect(new Set(flat).size).toBe(flat.length);
      expect(task.template).toContain('{}');
    }
    expect(zeroShotTask('colour').prompts[COLOUR_NAMES.indexOf('orange')]).toContain('a photo of an orange circle');
    expect(zeroShotTask('position').prompts[0]).toContain('a photo of a red circle in the top left corner');
    expect(() => zeroShotTask('count' as 'size')).toThrow(/unknown attribute count/);
  });

  it('gives the true class of single-object samples and refuses two-object ones', () => {
    for (const s of collect(200, { seed: 6, objectCount: 1 })) {
      const o = s.attributes.objects[0];
      expect(zeroShotTask('colour').classes[groundTruthClass('colour', s.attributes)]).toBe(o.colour);
      expect(zeroShotTask('shape').classes[groundTruthClass('shape', s.attributes)]).toBe(o.shape);
      expect(zeroShotTask('size').classes[groundTruthClass('size', s.attributes)]).toBe(o.size);
      expect(zeroShotTask('position').classes[groundTruthClass('position', s.attributes)]).toBe(o.position);
    }
    const two = generateSample(0, { seed: 6, objectCount: 2 });
    expect(() => groundTruthClass('colour', two.attributes)).toThrow(/single-object sample, got 2 objects/);
  });

  it('the prompt forms are captions the model is trained on', () => {
    let colourHits = 0, positionHits = 0, sizeHits = 0;
    const samples = collect(400, { seed: 12, objectCount: 1 });
    for (const s of samples) {
      const o = s.attributes.objects[0];
      const shapeIndex = SHAPES.indexOf(o.shape), colourIndex = COLOUR_NAMES.indexOf(o.colour);
      const colourPrompt = zeroShotTask('colour').prompts[colourIndex][shapeIndex];
      const positionPrompt = zeroShotTask('position').prompts[groundTruthClass('position', s.attributes)][colourIndex * SHAPES.length + shapeIndex];
      const sizePrompt = zeroShotTask('size').prompts[groundTruthClass('size', s.attributes)][colourIndex * SHAPES.length + shapeIndex];
      if (s.captions.includes(colourPrompt)) colourHits++;
      if (s.captions.includes(positionPrompt)) positionHits++;
      if (s.captions.includes(sizePrompt)) sizeHits++;
    }
    for (const hits of [colourHits, positionHits, sizeHits]) expect(hits / samples.length).toBeGreaterThan(0.1);
  });
});

describe('imagefolder', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sd-imagefolder-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('export → import round trip keeps pixels, captions and attributes', async () => {
    const out = join(dir, 'roundtrip');
    const options = { seed: 17, resolution: 32 as const, split: 'heldout' as const, count: 25, start: 100 };
    const { count, metadataPath } = await exportImageFolder(out, options);
    expect(count).toBe(25);
    expect((await readFile(metadataPath, 'utf8')).trim().split('\n')).toHaveLength(25);
    const entries = await readImageFolder(out);
    expect(entries).toHaveLength(25);
    entries.forEach((entry, k) => {
      const s = generateSample(100 + k, options);
      expect(entry.fileName).toBe(`${String(100 + k).padStart(6, '0')}.png`);
      expect(entry.line).toBe(k + 1);
      expect(entry.text).toBe(s.captions[0]);
      expect(entry.image!.width).toBe(32);
      expect(Buffer.from(entry.image!.data).equals(Buffer.from(s.image))).toBe(true);
      expect(entry.extra).toMatchObject({ index: 100 + k, seed: 17, split: 'heldout', background: s.attributes.background, captions: s.captions });
      expect(entry.extra.objects).toEqual(s.attributes.objects);
    });
    const listed = await readImageFolder(out, { loadImages: false });
    expect(listed.map((e) => e.fileName)).toEqual(entries.map((e) => e.fileName));
    expect(listed[0].image).toBeUndefined();
  });

  async function folder(name: string, metadata: string | null, files: Record<string, Uint8Array | string> = {}): Promise<string> {
    const path = join(dir, name);
    await exportImageFolder(path, { seed: 0, count: 0 });
    if (metadata !== null) await writeFile(join(path, 'metadata.jsonl'), metadata);
    else await rm(join(path, 'metadata.jsonl'));
    for (const [file, bytes] of Object.entries(files)) await writeFile(join(path, file), bytes);
    return path;
  }
  const png = () => encodeRgbPng({ width: 2, height: 1, data: new Uint8Array([1, 2, 3, 4, 5, 6]) });

  it('reports each kind of bad folder, naming the line and the file', async () => {
    const noMeta = await folder('no-meta', null, { 'a.png': png() });
    await expect(readImageFolder(noMeta)).rejects.toThrow(/no-meta has no metadata\.jsonl; an imagefolder needs/);
    const csvOnly = await folder('csv-only', null, { 'metadata.csv': 'file_name,text\na.png,hi\n' });
    await expect(readImageFolder(csvOnly)).rejects.toThrow(/metadata\.csv is not supported/);

    const okLine = '{"file_name": "a.png", "text": "a red circle"}\n';
    const cases: [string, string, Record<string, Uint8Array | string>, RegExp][] = [
      ['bad-json', okLine + '{"file_name": "a.png", "text": \n', { 'a.png': png() }, /metadata\.jsonl:2: invalid JSON/],
      ['not-object', okLine + '["a.png"]\n', { 'a.png': png() }, /metadata\.jsonl:2: expected a JSON object/],
      ['no-file-name', okLine + '\n{"text": "a blue star"}\n', { 'a.png': png() }, /metadata\.jsonl:3: missing or non-string "file_name"/],
      ['no-text', '{"file_name": "a.png", "caption": "x"}\n', { 'a.png': png() }, /metadata\.jsonl:1: missing or non-string "text" \(for a\.png\)/],
      ['missing-image', okLine + '{"file_name": "b.png", "text": "x"}\n', { 'a.png': png() }, /metadata\.jsonl:2: image file "b\.png" does not exist/],
      ['garbage-image', okLine, { 'a.png': 'not an image at all' }, /metadata\.jsonl:1: image file "a\.png" is unreadable: a\.png: not a PNG or JPEG file/],
      ['truncated-png', okLine, { 'a.png': png().subarray(0, 30) }, /metadata\.jsonl:1: image file "a\.png" is unreadable: a\.png: corrupt PNG/],
      ['escaping', '{"file_name": "../x.png", "text": "x"}\n', {}, /metadata\.jsonl:1: file_name "\.\.\/x\.png" must be a path inside the folder/],
    ];
    for (const [name, metadata, files, message] of cases) {
      const path = await folder(name, metadata, files);
      await expect(readImageFolder(path), name).rejects.toThrow(message);
    }
    // A missing file is caught without decoding too.
    const missing = await folder('missing-nodecode', '{"file_name": "gone.png", "text": "x"}\n');
    await expect(readImageFolder(missing, { loadImages: false })).rejects.toThrow(/:1: image file "gone\.png" does not exist/);
  });

  it('reads images in subfolders, JPEGs and other PNG formats as 8-bit RGB', async () => {
    const grey1 = handPng(3, 2, 0, 1, [[0b10100000], [0b01000000]]);
    const rgba16 = handPng(1, 1, 6, 16, [[255, 255, 0, 0, 128, 128, 3, 232]]);
    const grey8 = handPng(2, 1, 0, 8, [[7, 200]]);
    const palette = handPng(2, 1, 3, 8, [[1, 0]], [10, 20, 30, 200, 100, 50]);
    const jpg = jpeg.encode({ width: 8, height: 8, data: new Uint8Array(8 * 8 * 4).fill(128) }, 95).data;
    const metadata = ['sub/g1.png', 'rgba16.png', 'g8.png', 'pal.png', 'photo.jpg']
      .map((f) => JSON.stringify({ file_name: f, text: f, label: 3 })).join('\n');
    const path = await folder('formats', metadata, { 'rgba16.png': rgba16, 'g8.png': grey8, 'pal.png': palette, 'photo.jpg': jpg });
    await (await import('node:fs/promises')).mkdir(join(path, 'sub'));
    await writeFile(join(path, 'sub/g1.png'), grey1);
    const [g1, r16, g8, pal, photo] = await readImageFolder(path);
    expect(Array.from(g1.image!.data)).toEqual([255, 255, 255, 0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255, 0, 0, 0]);
    expect(Array.from(r16.image!.data)).toEqual([255, 0, 128]);
    expect(Array.from(g8.image!.data)).toEqual([7, 7, 7, 200, 200, 200]);
    expect(Array.from(pal.image!.data)).toEqual([200, 100, 50, 10, 20, 30]);
    expect(photo.image!.width).toBe(8);
    for (const v of photo.image!.data) expect(Math.abs(v - 128)).toBeLessThanOrEqual(2);
    expect(g1.extra).toEqual({ label: 3 });
    expect(() => decodeRgb(new Uint8Array([0xff, 0xd8, 0xff, 0]), 'x.jpg')).toThrow(/x\.jpg: corrupt JPEG/);
  });
});

describe('captionMentions', () => {
  it('finds size, position and background words as whole words, in every template that names them', () => {
    const rng = mulberry32(5);
    const object = { shape: 'star', colour: 'green', size: 'small', position: 'top left' } as const;
    for (let k = 0; k < 20; k++) {
      for (const c of captionsNaming(rng, object, 'navy', 'size')) expect(captionMentions(c).size, c).toBe(true);
      for (const c of captionsNaming(rng, object, 'navy', 'position')) expect(captionMentions(c).position, c).toBe(true);
    }
    expect(captionMentions('a photo of a crimson diamond')).toEqual({ size: false, position: false, background: false });
    expect(captionMentions('a pink box')).toEqual({ size: false, position: false, background: false });
    expect(captionMentions('a yellow love heart on navy')).toEqual({ size: false, position: false, background: true });
    expect(captionMentions('top: small orange disk, navy backdrop')).toEqual({ size: true, position: true, background: true });
    expect(captionMentions('a photo of a tiny white cross in the center')).toEqual({ size: true, position: true, background: false });
    // Not parts of words: "littler" is no size, "leftover" no position.
    expect(captionMentions('a littler leftover star')).toEqual({ size: false, position: false, background: false });
  });
});
