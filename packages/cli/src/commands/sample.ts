// `sd sample "caption"`: text → image with the trained parts (TextToImagePipeline): the CLIP, a prior
// (shifted, baseline, or none: the text embedding itself), the decoder and the VAE. Writes a PNG grid
// (one row per caption, --n columns) and, with --out-dir, one PNG per image; prints each stage's time.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { initRuntime } from '@sd/kernels';
import { encodeRgbPng, TextToImagePipeline } from '@sd/models';
import { parseSample, type SampleCli } from '../options.ts';
import { resolveDecoder, resolvePrior, resolveVae } from '../parts.ts';

export async function sampleCommand(captions: string[], o: SampleCli): Promise<void> {
  const { n, steps, guidance, seed } = parseSample(o);
  if (captions.length === 0) throw new Error('sd sample: give at least one caption');
  // Each part: its option, else the trainer's run directory, else the committed default (parts.ts).
  const priorSource = o.prior === 'none' ? null : resolvePrior('sd sample', o.prior);
  const prior = priorSource ? priorSource.path : 'none';
  const decoder = resolveDecoder('sd sample', o.decoder);
  const vae = resolveVae('sd sample', o.vae);
  for (const [what, p] of [['prior', priorSource], ['decoder', decoder], ['VAE', vae]] as const) if (p) console.log(`${what}: ${p.path}${p.from === 'committed' ? ' (committed default)' : ''}`);
  await initRuntime();
  let t = performance.now();
  const lap = (what: string) => {
    const now = performance.now();
    console.log(`${what}: ${((now - t) / 1000).toFixed(1)} s`);
    t = now;
  };
  const pipeline = TextToImagePipeline.load({ clip: o.clip, prior, decoder: decoder.path, vae: vae.path });
  lap('load');
  const texts = captions.flatMap((c) => Array<string>(n).fill(c));
  const result = await pipeline.generate(texts, { steps, guidance, seed });
  lap(`generate ${texts.length} image(s) (${prior === 'none' ? 'text embedding' : `prior ${o.prior}`}, ${steps} DDIM steps, guidance ${guidance})`);
  const { textMs, priorMs, decodeMs } = result.timings;
  console.log(`  text encoder ${(textMs / 1000).toFixed(1)} s, prior ${(priorMs / 1000).toFixed(1)} s, decoder + VAE ${(decodeMs / 1000).toFixed(1)} s`);
  if (result.truncated.length) console.warn(`sd sample: ${result.truncated.length} caption(s) exceed the CLIP's context and were truncated`);
  const side = result.side;
  const grid = new Uint8Array(n * side * captions.length * side * 3);
  result.images.forEach((rgba, k) => {
    const [row, col] = [Math.floor(k / n), k % n];
    for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) {
      const to = ((row * side + y) * n * side + col * side + x) * 3;
      grid.set(rgba.subarray((y * side + x) * 4, (y * side + x) * 4 + 3), to);
    }
  });
  mkdirSync(dirname(o.out), { recursive: true });
  writeFileSync(o.out, encodeRgbPng({ width: n * side, height: captions.length * side, data: grid }));
  if (o.outDir) {
    mkdirSync(o.outDir, { recursive: true });
    result.images.forEach((rgba, k) => {
      const rgb = new Uint8Array(side * side * 3);
      for (let p = 0; p < side * side; p++) rgb.set(rgba.subarray(p * 4, p * 4 + 3), p * 3);
      writeFileSync(join(o.outDir!, `${String(k).padStart(3, '0')}.png`), encodeRgbPng({ width: side, height: side, data: rgb }));
    });
  }
  console.log(`wrote ${o.out}${o.outDir ? ` and ${result.images.length} images in ${o.outDir}` : ''}`);
  pipeline.dispose();
}
