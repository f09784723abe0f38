// CLIP preprocessing against Pillow 9.4 + torchvision's transform steps (test/fixtures/gen_clip_fixtures.py)
// and against modelzoo@0.0.4's output of OpenAI's clip._transform (real torchvision).
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '@sd/io';
import { clipPreprocess, clipResizeCrop, decodeRgb, normalizeClipPixels, preprocessImageFile, preprocessImages, resizedSize, type RgbImage } from '@sd/models';
import { expectClose } from '../util/close.ts';

const DIR = join(import.meta.dirname, '../fixtures/clip');
const meta = JSON.parse(readFileSync(join(DIR, 'meta.json'), 'utf8'));
const reference = readSafetensors(join(DIR, 'reference.safetensors')).tensors;
const modelzoo = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/clip-model-modelzoo.json'), 'utf8'));

const f32 = (p: { f32: string }) => new Float32Array(new Uint8Array(Buffer.from(p.f32, 'base64')).buffer);
const quiet = { warn: () => {} };

describe('CLIP preprocessing', () => {
  for (const c of meta.preprocess.cases as { name: string; file: string; size: [number, number]; decoder: string }[]) {
    const exact = c.decoder === 'exact';
    it(`matches Pillow's bicubic resize + centre crop ${exact ? 'exactly' : 'up to the JPEG decoder'}: ${c.name}`, () => {
      const image = decodeRgb(readFileSync(join(DIR, c.file)), c.file);
      expect([image.width, image.height]).toEqual(c.size);
      const n = meta.preprocess.size;
      const pixels = clipResizeCrop(image, n, quiet);
      const full = reference.get(`preprocess.${c.name}`);
      if (full) {
        // The float result: normalisation with torchvision's float32 steps, bit for bit.
        expect(Array.from(normalizeClipPixels(pixels, n))).toEqual(Array.from(full.data));
      } else {
        const u8 = reference.get(`preprocess.${c.name}.u8`)!; // CHW
        const chw = new Int32Array(3 * n * n);
        for (let p = 0; p < n * n; p++) for (let ch = 0; ch < 3; ch++) chw[ch * n * n + p] = pixels[p * 3 + ch];
        if (exact) expect(Array.from(chw)).toEqual(Array.from(u8.data));
        else {
          // jpeg-js vs libjpeg: IDCT and chroma upsampling differ (measured: max 6 levels, mean 1.5).
          expectClose(chw, u8.data, { rtol: 0, atol: 8 }, `${c.name} (jpeg-js vs libjpeg)`);
          const meanError = chw.reduce((s, v, i) => s + Math.abs(v - u8.data[i]), 0) / chw.length;
          expect(meanError).toBeLessThan(2);
        }
      }
    });
  }

  it("matches modelzoo's output of OpenAI clip._transform (torchvision on PIL)", () => {
    const t = modelzoo.transform;
    const { width, height, background, square } = t.input;
    const data = new Uint8Array(width * height * 3).fill(background);
    for (let y = square.rows[0]; y < square.rows[1]; y++) for (let x = square.cols[0]; x < square.cols[1]; x++) data.fill(square.value, (y * width + x) * 3, (y * width + x) * 3 + 3);
    const n = t.resolution;
    const chw = clipPreprocess({ width, height, data }, n);
    const hwc = f32(t.output);
    const expected = new Float32Array(3 * n * n);
    for (let p = 0; p < n * n; p++) for (let ch = 0; ch < 3; ch++) expected[ch * n * n + p] = hwc[p * 3 + ch];
    expectClose(chw, expected, { rtol: 1e-6, atol: 1e-6 }, 'clip._transform');
  });

  it('computes torchvision sizes and crops', () => {
    expect(resizedSize(50, 37, 32)).toEqual({ width: 43, height: 32 });
    expect(resizedSize(13, 20, 32)).toEqual({ width: 32, height: 49 });
    expect(resizedSize(640, 480, 224)).toEqual({ width: 298, height: 224 });
    expect(resizedSize(224, 224, 224)).toEqual({ width: 224, height: 224 });
  });

  it('warns for tiny images but still resizes them', () => {
    const messages: string[] = [];
    const out = clipPreprocess({ width: 5, height: 7, data: new Uint8Array(105).fill(9) }, 16, { warn: (m) => messages.push(m), name: 'tiny.png' });
    expect(out.length).toBe(3 * 16 * 16);
    expect(messages).toEqual(['clipPreprocess: tiny.png is only 5×7 px; upscaling it to 16 px will be very blurry']);
  });

  it('batches files, bytes and decoded images into one tensor', async () => {
    const file = join(DIR, 'preprocess_noise_50x37.png');
    const image: RgbImage = decodeRgb(readFileSync(file), file);
    const batch = preprocessImages([file, readFileSync(file), image], 32, quiet);
    expect(batch.shape).toEqual([3, 3, 32, 32]);
    const values = (await batch.read()) as Float32Array;
    batch.dispose();
    const one = Array.from(reference.get('preprocess.noise_50x37')!.data);
    for (let i = 0; i < 3; i++) expect(Array.from(values.subarray(i * 3072, (i + 1) * 3072))).toEqual(one);
  });

  it('reports unreadable, non-image and malformed input clearly', () => {
    const dir = mkdtempSync(join(tmpdir(), 'clip-pre-'));
    try {
      const text = join(dir, 'notes.txt');
      writeFileSync(text, 'not an image');
      expect(() => preprocessImageFile(text)).toThrow(`${text}: not a PNG or JPEG file`);
      expect(() => preprocessImageFile(join(dir, 'missing.png'))).toThrow(/missing\.png: cannot read image \(ENOENT/);
      const truncated = join(dir, 'cut.png');
      writeFileSync(truncated, readFileSync(join(DIR, 'preprocess_noise_50x37.png')).subarray(0, 100));
      expect(() => preprocessImageFile(truncated)).toThrow(/cut\.png: corrupt PNG/);
      expect(() => clipPreprocess({ width: 0, height: 4, data: new Uint8Array(0) }, 8)).toThrow(/is empty \(0×4\)/);
      expect(() => clipPreprocess({ width: 2, height: 2, data: new Uint8Array(5) }, 8, quiet)).toThrow(/2×2 RGB but has 5 bytes, not 12/);
      expect(() => preprocessImages([], 8)).toThrow(/no images/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
