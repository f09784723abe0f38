// The embedding space (clip/embedding-space.ts) against each model's own outputs, normalised in
// float64 here: one CLIP gives unit rows; a MultiCLIP gives its models' rows side by side, each block
// unit (per-model) or raw; each model sees the images at its own resolution and each text tower its
// own context (the shortest one is reported).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualSeed } from '@sd/autograd';
import {
  CLIP, MultiCLIP, disposeEncoder, embedImageRows, embedImages, embedTextRows, embedTexts, embeddingBlocks, embeddingDim, encoderContextLength,
  generateSample, normalizeBlocksInPlace, normalizeEmbeddings,
} from '@sd/models';
import { expectClose } from '../util/close.ts';
import { makeRng, uniform } from '../util/random.ts';
import { TINY_CLIP } from '../util/tiny-pipeline.ts';

let a: CLIP;
let b: CLIP;
beforeAll(() => {
  manualSeed(11);
  a = new CLIP(TINY_CLIP).eval();
  manualSeed(12);
  // Another resolution, width and context: 64-pixel images, 8-d embeddings, 12 tokens.
  b = new CLIP({
    embedDim: 8,
    vision: { kind: 'vit', imageResolution: 64, patchSize: 16, width: 16, layers: 1, heads: 2 },
    text: { contextLength: 12, vocabSize: 49408, width: 16, heads: 2, layers: 1 },
  }).eval();
});
afterAll(() => disposeEncoder(new MultiCLIP([a, b])));

const images = [0, 1, 2].map((i) => ({ data: generateSample(i, { seed: 4, resolution: 64 }).image, width: 64, height: 64 }));
const texts = ['a red star', 'a small blue circle in the top left corner', 'two green squares'];

/** Rows [n, dim] with each run of `widths` columns divided by its float64 norm (or left raw). */
function blocks(parts: { data: Float32Array; dim: number }[], rows: number, unit: boolean): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (const { data, dim } of parts) {
      const row = Array.from(data.subarray(r * dim, (r + 1) * dim), Number);
      const norm = unit ? Math.sqrt(row.reduce((s, v) => s + v * v, 0)) : 1;
      out.push(...row.map((v) => v / norm));
    }
  }
  return out;
}

describe('embedding space', () => {
  it("gives one CLIP's unit rows, and a MultiCLIP's models side by side (per-model unit or raw)", async () => {
    const ia = { data: await embedImages(a, images), dim: 16 };
    const ib = { data: await embedImages(b, images), dim: 8 };
    const ta = { data: await embedTexts(a, texts), dim: 16 };
    const tb = { data: await embedTexts(b, texts), dim: 8 };
    const unit = new MultiCLIP([a, b]);
    const raw = new MultiCLIP([a, b], { normalize: false });
    expect([embeddingDim(unit), embeddingBlocks(unit), embeddingDim(a)]).toEqual([24, [16, 8], 16]);
    expect(encoderContextLength(unit)).toBe(12);
    const tol = { rtol: 1e-6, atol: 1e-7 };
    expectClose(await embedImageRows(a, images), blocks([ia], 3, true), tol, 'one CLIP, images');
    expectClose(await embedTextRows(a, texts), blocks([ta], 3, true), tol, 'one CLIP, texts');
    expectClose(await embedImageRows(unit, images), blocks([ia, ib], 3, true), tol, 'per-model, images');
    expectClose(await embedTextRows(unit, texts), blocks([ta, tb], 3, true), tol, 'per-model, texts');
    expect(Array.from(await embedImageRows(raw, images))).toEqual(blocks([ia, ib], 3, false));
    expect(Array.from(await embedTextRows(raw, texts))).toEqual(blocks([ta, tb], 3, false));
  });

  it('normalises rows as the space does: whole rows, per block, or not at all', () => {
    const rows = uniform(makeRng(3), 2 * 24, -2, 2);
    const tol = { rtol: 1e-6, atol: 1e-7 };
    const asParts = (dims: number[]) => {
      // The same rows cut into column blocks, as separate matrices.
      const parts = dims.map((dim) => ({ data: new Float32Array(2 * dim), dim }));
      for (let r = 0; r < 2; r++) {
        let o = r * 24;
        for (const p of parts) (p.data.set(rows.subarray(o, o + p.dim), r * p.dim), (o += p.dim));
      }
      return parts;
    };
    expectClose(normalizeEmbeddings(new MultiCLIP([a, b]), Float32Array.from(rows)), blocks(asParts([16, 8]), 2, true), tol, 'per block');
    expect(Array.from(normalizeEmbeddings(new MultiCLIP([a, b], { normalize: false }), Float32Array.from(rows)))).toEqual(Array.from(rows));
    expectClose(normalizeBlocksInPlace(Float32Array.from(rows), [24]), blocks(asParts([24]), 2, true), tol, 'whole rows');
  });
});
