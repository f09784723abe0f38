// `pnpm demo` in headless Chromium: the page reports the WebGPU adapter, loads the committed default
// CLIP, priors, decoder and VAE over HTTP, generates an image for a caption with every stage's
// progress bar filled, and the page's screenshot shows that image (the canvas' pixels, scaled ×3 as
// the page's CSS draws them). Its training panel trains a prior in the page, with the losses Node
// gets for the same steps, plots them, and the trained prior then generates.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeRgb, embeddedDataDir, loadEmbeddingPairs, loadPrior, priorRunConfig, PriorTraining, shiftStatsFor, disposePrior, withSteps } from '@sd/models';
import { ROOT } from '../../scripts/page.ts';
import { serveDemo } from '../../demo/server.ts';
import { browse, type BrowserPage } from '../../scripts/chromium.ts';

let demo: BrowserPage | undefined;
afterAll(() => demo?.close());

describe('pnpm demo', () => {
  it('reports the adapter, generates from the committed models, and the screenshot shows the image', async () => {
    demo = await browse(await serveDemo(0), { width: 900, height: 700 });
    const { page } = demo;
    const text = (id: string) => page.evaluate((i) => (globalThis as unknown as { document: { getElementById(i: string): { textContent: string } } }).document.getElementById(i).textContent, id);
    await page.waitForFunction(() => {
      const doc = (globalThis as unknown as { document: { getElementById(i: string): { textContent: string; className: string } } }).document;
      return doc.getElementById('status').textContent === 'ready' || doc.getElementById('adapter').className === 'error';
    }, null, { timeout: 60_000 });
    expect(await text('adapter')).toMatch(/^WebGPU adapter: \S/);

    await page.fill('#count', '1');
    await page.fill('#steps', '2');
    await page.click('#generate');
    await page.waitForFunction(() => /^(done|failed)/.test((globalThis as unknown as { document: { getElementById(i: string): { textContent: string } } }).document.getElementById('status').textContent), null, { timeout: 120_000 });
    expect(await text('status')).toMatch(/^done in \d+ ms: text \d+ ms, prior \d+ ms, decoder \+ VAE \d+ ms/);
    expect(demo.errors).toEqual([]);
    const bars = await page.locator('.stages progress').evaluateAll((els) => els.map((e) => { const p = e as unknown as { id: string; value: number; max: number }; return [p.id, p.value, p.max]; }));
    expect(bars).toEqual([['progress-text', 1, 1], ['progress-prior', 1, 1], ['progress-decoder', 2, 2], ['progress-vae', 1, 1]]);

    // The image as drawn (64×64 RGBA) and where the page shows it (its content box, 192×192).
    const canvas = page.locator('#images canvas');
    expect(await canvas.count()).toBe(1);
    const drawn = await canvas.evaluate((c: unknown) => {
      const el = c as { width: number; height: number; clientLeft: number; clientTop: number; getBoundingClientRect(): { x: number; y: number }; getContext(k: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } };
      const box = el.getBoundingClientRect();
      return { side: el.width, rgba: Array.from(el.getContext('2d').getImageData(0, 0, el.width, el.height).data), x: box.x + el.clientLeft, y: box.y + el.clientTop };
    });
    const values = drawn.rgba.filter((_, i) => i % 4 !== 3);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect(Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length), 'the image is not flat').toBeGreaterThan(5);

    const scale = 3;
    const shot = decodeRgb(await page.screenshot({ clip: { x: drawn.x, y: drawn.y, width: drawn.side * scale, height: drawn.side * scale } }), 'screenshot');
    expect([shot.width, shot.height]).toEqual([drawn.side * scale, drawn.side * scale]);
    let total = 0;
    let worst = 0;
    for (let y = 0; y < shot.height; y++) {
      for (let x = 0; x < shot.width; x++) {
        const src = (Math.floor(y / scale) * drawn.side + Math.floor(x / scale)) * 4;
        for (let c = 0; c < 3; c++) {
          const d = Math.abs(shot.data[(y * shot.width + x) * 3 + c] - drawn.rgba[src + c]);
          total += d;
          worst = Math.max(worst, d);
        }
      }
    }
    console.log(`demo screenshot vs drawn image: mean ${(total / (shot.width * shot.height * 3)).toFixed(3)}, max ${worst} (8-bit levels)`);
    expect(total / (shot.width * shot.height * 3), 'mean 8-bit difference of the screenshot from the image').toBeLessThan(1);
    expect(worst, 'largest 8-bit difference').toBeLessThanOrEqual(2);
  }, 240_000);

  it('trains a prior in the page: the losses Node gets for the same steps, a plot of them, and the trained prior generates', async () => {
    const { page } = demo!;
    const text = (id: string) => page.evaluate((i) => (globalThis as unknown as { document: { getElementById(i: string): { textContent: string } } }).document.getElementById(i).textContent, id);
    // SwiftShader takes seconds per step of the committed batch (64); 16 keeps this test short.
    const [steps, batchSize] = [20, 16];
    await page.fill('#train-steps', String(steps));
    await page.fill('#train-batch', String(batchSize));
    await page.click('#train');
    await page.waitForFunction(() => /^(trained|training failed|could not)/.test((globalThis as unknown as { document: { getElementById(i: string): { textContent: string } } }).document.getElementById('train-status').textContent), null, { timeout: 120_000 });
    expect(await text('train-status')).toMatch(new RegExp(`^trained shifted prior: ${steps} steps in [\\d.]+ s`));
    const log = await page.evaluate(() => (globalThis as unknown as { demoTrainingLog: [number, number][] }).demoTrainingLog);

    // The same steps in Node (lavapipe, not SwiftShader: other kernels, so close, not equal).
    const committed = loadPrior(join(ROOT, 'packages/models/assets/default-prior/shifted.safetensors'));
    disposePrior(committed);
    const pairs = loadEmbeddingPairs(join(embeddedDataDir(), 'train'));
    const settings = withSteps(committed.config.train, steps, batchSize);
    const training = new PriorTraining(pairs, priorRunConfig(pairs, committed.config.model, settings), shiftStatsFor(pairs, settings));
    const expected: [number, number][] = [];
    for (let step = 0; step < steps; step++) {
      const loss = training.step(step);
      if ((step + 1) % 10 === 0) expected.push([step + 1, (await loss.read())[0]]);
      loss.dispose();
    }
    disposePrior(training.finish());
    console.log(`in-page prior training, loss at steps 10/20: page ${log.map(([, l]) => l.toFixed(5)).join(' ')}, Node ${expected.map(([, l]) => l.toFixed(5)).join(' ')}`);
    expect(log.map(([s]) => s)).toEqual([10, 20]);
    for (const [k, [, loss]] of expected.entries()) expect(Math.abs(log[k][1] - loss) / loss, `loss at step ${expected[k][0]}`).toBeLessThan(1e-3);
    // The loss falls, and the plot shows it (pixels in the shifted prior's colour).
    expect(log[1][1]).toBeLessThan(log[0][1]);
    const red = await page.locator('#loss-plot canvas').evaluate((c: unknown) => {
      const el = c as { width: number; height: number; getContext(k: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } };
      const d = el.getContext('2d').getImageData(0, 0, el.width, el.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] === 200 && d[i + 1] === 40 && d[i + 2] === 40) n++;
      return n;
    });
    expect(red).toBeGreaterThan(50);

    await page.selectOption('#arm', 'trained');
    await page.click('#generate');
    await page.waitForFunction(() => /^(done|failed)/.test((globalThis as unknown as { document: { getElementById(i: string): { textContent: string } } }).document.getElementById('status').textContent), null, { timeout: 120_000 });
    expect(await text('status')).toMatch(/^done in \d+ ms/);
    expect(demo!.errors).toEqual([]);
  }, 240_000);
});
