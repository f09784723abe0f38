// `sd sample "caption"`: text → image with the trained parts (TextToImagePipeline): the CLIP, a prior
// (shifted, baseline, or none: the text embedding itself), the decoder and the VAE. Writes a PNG grid
// (one row per caption, --n columns) and, with --out-dir, one PNG per image; prints each stage's time.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { initRuntime } from '@sd/kernels';
import { encodeRgbPng, TextToImagePipeline } from '@sd/models';
import { parseSample, type SampleCli } from '../options.ts';

/** Where `--prior shifted|baseline` and the default parts live: the trainers' default run directories. */
function priorDir(prior: string): string {
  return prior === 'shifted' || prior === 'baseline' ? join('runs', 'prior', prior) : prior;
}

function requireDir(path: string, what: string, how: string): void {
  if (!existsSync(path)) throw new Error(`sd sample: no ${what} at ${path} (${how}, or name one with its option)`);
}

export async function sampleCommand(captions: string[], o: SampleCli): Promise<void> {
  const { n, steps, guidance, seed } = parseSample(o);
  if (captions.length === 0) throw new Error('sd sample: give at least one caption');
  const prior = o.prior === 'none' ? 'none' : priorDir(o.prior);
  if (prior !== 'none') requireDir(prior, 'prior run', '`pnpm train:prior` writes runs/prior/{shifted,baseline}');
  requireDir(o.decoder, 'decoder', '`pnpm train:decoder` writes runs/decoder/final');
  requireDir(o.vae, 'VAE', '`pnpm train:vae` writes runs/vae/final');
  await initRuntime();
  let t = performance.now();
  const lap = (what: string) => {
    const now = performance.now();
    console.log(`${what}: ${((now - t) / 1000).toFixed(1)} s`);
    t = now;
  };
  const pipeline = TextToImagePipeline.load({ clip: o.clip, prior, decoder: o.decoder, vae: o.vae });
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
