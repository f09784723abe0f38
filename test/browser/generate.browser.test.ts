// The same image from the same seed in the page and in Node: tiny random parts of the text → image
// stack (a CLIP, a prior trained for a few steps, a decoder UNet and a VAE; test/util/tiny-pipeline.ts)
// are saved as the trainers save them, loaded in Node from the files and in Chromium over HTTP
// (TextToImagePipeline.fromLoader with fetchLoader), and generate for the same captions and seed.
// The VAE's outputs, clamped to the pixel range [-1, 1], differ by at most 1e-3 of that range.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DECODER_SCHEDULER_CONFIG, exportClip, TextToImagePipeline } from '@sd/models';
import { tinyPipelineParts } from '../util/tiny-pipeline.ts';
import { openPage, pageReady, type BrowserPage } from '../../scripts/chromium.ts';
import { captureDecoded } from './pages/decoded.ts';
import type { GeneratePage } from './pages/generate.ts';

const CAPTIONS = ['a large red star in the top left corner', 'a small blue circle'];
const OPTIONS = { steps: 3, guidance: 2, priorSteps: 2, seed: 11 };

let browser: BrowserPage | undefined;
afterAll(() => browser?.close());

describe('text → image in Chromium', () => {
  it('generates what Node generates for the same seed (max |Δ| ≤ 1e-3 of the pixel range)', async () => {
    // The parts, as the trainers write them: the prior's run directory, exportClip, savePretrained.
    const dir = mkdtempSync(join(tmpdir(), 'sd-browser-parts-'));
    const { clip, vae, unet, prior, priorDir } = await tinyPipelineParts(true);
    await exportClip(clip, join(dir, 'clip.safetensors'));
    await unet.savePretrained(join(dir, 'decoder'));
    writeFileSync(join(dir, 'decoder', 'scheduler_config.json'), JSON.stringify(DECODER_SCHEDULER_CONFIG));
    await vae.savePretrained(join(dir, 'vae'));
    for (const m of [clip, vae, unet, prior!.model]) m.dispose();
    const sources = { clip: join(dir, 'clip.safetensors'), prior: priorDir, decoder: join(dir, 'decoder'), vae: join(dir, 'vae') };

    const node = TextToImagePipeline.load(sources);
    const nodeDecoded = captureDecoded(node.parts.vae);
    const expected = await node.generate(CAPTIONS, OPTIONS);
    const expectedFloats = await nodeDecoded.last();
    // What the comparison must tell apart: Node's images for the next seed.
    await node.generate(CAPTIONS, { ...OPTIONS, seed: OPTIONS.seed + 1 });
    const otherSeed = await nodeDecoded.last();
    node.dispose();

    // The page gets the same folder at /parts/ (the prior's run directory under parts/prior).
    browser = await openPage('test/browser/pages/generate.ts', { files: [['parts/prior', priorDir], ['parts', dir]] });
    await pageReady(browser, 'sdReady', 110_000);
    const got = await browser.page.evaluate(([c, o]) => (globalThis as unknown as { sdGenerate: GeneratePage }).sdGenerate.generate(c, o), [CAPTIONS, OPTIONS] as const);
    expect(browser.errors).toEqual([]);

    expect(got.side).toBe(expected.side);
    expect(got.decoded.length).toBe(expectedFloats.length);
    const clamp = (v: number) => Math.min(1, Math.max(-1, v));
    /** max |a − b| over the clamped outputs, as a fraction of the pixel range (2). */
    const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
      let worst = 0;
      for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(clamp(a[i]) - clamp(b[i])));
      return worst / 2;
    };
    const worst = maxDiff(got.decoded, expectedFloats);
    console.log(`page vs Node, seed ${OPTIONS.seed}: max |Δ| = ${worst.toExponential(2)} of the pixel range (Node, seed ${OPTIONS.seed} vs ${OPTIONS.seed + 1}: ${maxDiff(otherSeed, expectedFloats).toExponential(2)})`);
    expect(worst, 'max |page − node| of the VAE output, as a fraction of the pixel range [-1, 1]').toBeLessThanOrEqual(1e-3);
    expect(maxDiff(otherSeed, expectedFloats)).toBeGreaterThan(1e-2);
    // The images themselves: at most one 8-bit level apart (a float a hair either side of a rounding edge).
    for (let k = 0; k < CAPTIONS.length; k++) {
      const diff = got.images[k].reduce((m, v, i) => Math.max(m, Math.abs(v - expected.images[k][i])), 0);
      expect(diff, `image ${k}: max 8-bit difference`).toBeLessThanOrEqual(1);
    }
    // Not trivially equal: the two captions give different images.
    expect(got.images[0]).not.toEqual(got.images[1]);
  }, 240_000);
});
