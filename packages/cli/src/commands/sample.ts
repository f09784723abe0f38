// `sd sample "caption"`: text → image with the trained parts (TextToImagePipeline): the CLIP, a prior
// (shifted, baseline, or none: the text embedding itself), the decoder and the VAE. Writes a PNG grid
// (one row per caption, --n columns) and, with --out-dir, one PNG per image; prints each stage's time.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { readNpy } from '@sd/io';
import { dirname, join } from 'node:path';
import { initRuntime } from '@sd/kernels';
import { encodeRgbPng, normalizeEmbeddings, TextToImagePipeline } from '@sd/models';
import { parseSample, type SampleCli } from '../options.ts';
import { clipNormalizeOption, resolveDecoder, resolvePrior, resolveVae } from '../parts.ts';

/** Rows of a float .npy ([n, dim] or one [dim] vector), each with a norm that can be normalised. */
function readImageEmbeddings(file: string): { data: Float32Array; count: number; dim: number } {
  if (!existsSync(file)) throw new Error(`--image-embedding: no such file ${file}`);
  const array = readNpy(file);
  if (array.shape.length !== 1 && array.shape.length !== 2) throw new Error(`${file}: image embeddings must be [n, dim] or [dim], got [${array.shape.join(', ')}]`);
  const [count, dim] = array.shape.length === 1 ? [1, array.shape[0]] : array.shape;
  if (count === 0 || dim === 0) throw new Error(`${file}: no embeddings (shape [${array.shape.join(', ')}])`);
  const data = Float32Array.from(array.data);
  for (let r = 0; r < count; r++) {
    const norm = Math.hypot(...data.subarray(r * dim, (r + 1) * dim));
    if (!(norm > 0) || !Number.isFinite(norm)) throw new Error(`${file}: row ${r} has norm ${norm}; it cannot be L2-normalised`);
  }
  return { data, count, dim };
}

export async function sampleCommand(captions: string[], o: SampleCli): Promise<void> {
  const { n, steps, guidance, seed, sampler } = parseSample(o);
  if (o.imageEmbedding !== undefined && captions.length > 0) throw new Error('sd sample: give captions or --image-embedding, not both');
  if (o.imageEmbedding === undefined && captions.length === 0) throw new Error('sd sample: give at least one caption (or --image-embedding FILE.npy)');
  const clipNormalize = clipNormalizeOption('sd sample', o.clipNormalize);
  const given = o.imageEmbedding === undefined ? null : readImageEmbeddings(o.imageEmbedding);
  // Each part: its option, else the trainer's run directory, else the committed default (parts.ts).
  // Given embeddings need no prior.
  const priorSource = o.prior === 'none' || given ? null : resolvePrior('sd sample', o.prior);
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
  const pipeline = TextToImagePipeline.load({ clip: o.clip?.length ? o.clip : undefined, clipNormalize, prior, decoder: decoder.path, vae: vae.path });
  lap('load');
  let result: { images: Uint8Array[]; side: number };
  let rows: number;
  if (given) {
    const dim = pipeline.parts.unet.config.input_dim;
    if (given.dim !== dim) throw new Error(`${o.imageEmbedding}: ${given.dim}-d embeddings, but the decoder takes ${dim}-d ones (input_dim)`);
    // Normalised as the decoder was trained: one CLIP's unit rows, a MultiCLIP's per its option.
    normalizeEmbeddings(pipeline.parts.clip, given.data);
    rows = given.count;
    const repeated = new Float32Array(rows * n * dim);
    for (let r = 0; r < rows; r++) for (let k = 0; k < n; k++) repeated.set(given.data.subarray(r * dim, (r + 1) * dim), (r * n + k) * dim);
    result = await pipeline.decode(repeated, { steps, guidance, sampler, seed });
    lap(`decode ${rows * n} image(s) of ${rows} embedding(s) from ${o.imageEmbedding} (${steps} ${sampler} steps, guidance ${guidance})`);
  } else {
    rows = captions.length;
    const texts = captions.flatMap((c) => Array<string>(n).fill(c));
    const generated = await pipeline.generate(texts, { steps, guidance, sampler, seed });
    lap(`generate ${texts.length} image(s) (${prior === 'none' ? 'text embedding' : `prior ${o.prior}`}, ${steps} ${sampler} steps, guidance ${guidance})`);
    const { textMs, priorMs, decodeMs } = generated.timings;
    console.log(`  text encoder ${(textMs / 1000).toFixed(1)} s, prior ${(priorMs / 1000).toFixed(1)} s, decoder + VAE ${(decodeMs / 1000).toFixed(1)} s`);
    if (generated.truncated.length) console.warn(`sd sample: ${generated.truncated.length} caption(s) exceed the CLIP's context and were truncated`);
    result = generated;
  }
  const side = result.side;
  const grid = new Uint8Array(n * side * rows * side * 3);
  result.images.forEach((rgba, k) => {
    const [row, col] = [Math.floor(k / n), k % n];
    for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) {
      const to = ((row * side + y) * n * side + col * side + x) * 3;
      grid.set(rgba.subarray((y * side + x) * 4, (y * side + x) * 4 + 3), to);
    }
  });
  mkdirSync(dirname(o.out), { recursive: true });
  writeFileSync(o.out, encodeRgbPng({ width: n * side, height: rows * side, data: grid }));
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
