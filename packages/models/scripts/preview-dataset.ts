#!/usr/bin/env tsx
// Writes a PNG contact sheet of 64 dataset samples (8×8 grid) with their first captions listed
// beside it, numbered row by row, to check by eye that shapes, colours and positions read clearly.
//
//   npx tsx packages/models/scripts/preview-dataset.ts out.png [--seed 0] [--resolution 64|32]
//       [--split train|heldout] [--objects 1|2|mixed] [--start 0] [--scale 2]
//
// The captions are drawn with a built-in 3×5 pixel font (upper case) and also printed to stdout.
import { writeFileSync } from 'node:fs';
import { encodeRgbPng, generateSample, type SampleOptions } from '../src/data/index.ts';

/** 3×5 glyphs, rows top to bottom ('#' = ink); letters are drawn upper case. */
const GLYPHS: Record<string, string> = {
  'a': '.#. #.# ### #.# #.#', 'b': '##. #.# ##. #.# ##.', 'c': '.## #.. #.. #.. .##', 'd': '##. #.# #.# #.# ##.',
  'e': '### #.. ##. #.. ###', 'f': '### #.. ##. #.. #..', 'g': '.## #.. #.# #.# .##', 'h': '#.# #.# ### #.# #.#',
  'i': '### .#. .#. .#. ###', 'j': '..# ..# ..# #.# .#.', 'k': '#.# #.# ##. #.# #.#', 'l': '#.. #.. #.. #.. ###',
  'm': '#.# ### #.# #.# #.#', 'n': '##. #.# #.# #.# #.#', 'o': '.#. #.# #.# #.# .#.', 'p': '##. #.# ##. #.. #..',
  'q': '.#. #.# #.# ##. .##', 'r': '##. #.# ##. #.# #.#', 's': '.## #.. .#. ..# ##.', 't': '### .#. .#. .#. .#.',
  'u': '#.# #.# #.# #.# ###', 'v': '#.# #.# #.# #.# .#.', 'w': '#.# #.# #.# ### #.#', 'x': '#.# #.# .#. #.# #.#',
  'y': '#.# #.# .#. .#. .#.', 'z': '### ..# .#. #.. ###', '0': '### #.# #.# #.# ###', '1': '.#. ##. .#. .#. ###',
  '2': '##. ..# .#. #.. ###', '3': '##. ..# .#. ..# ##.', '4': '#.# #.# ### ..# ..#', '5': '### #.. ##. ..# ##.',
  '6': '.## #.. ### #.# ###', '7': '### ..# .#. .#. .#.', '8': '### #.# ### #.# ###', '9': '### #.# ### ..# ##.',
  ':': '... .#. ... .#. ...', ',': '... ... ... .#. #..', ';': '... .#. ... .#. #..', '-': '... ... ### ... ...',
  '.': '... ... ... ... .#.', ' ': '... ... ... ... ...',
};

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const out = process.argv[2];
if (!out || out.startsWith('--')) {
  console.error('usage: preview-dataset.ts OUT.png [--seed N] [--resolution 64|32] [--split train|heldout] [--objects 1|2|mixed] [--start N] [--scale N]');
  process.exit(2);
}
const objects = arg('objects', 'mixed');
const options: SampleOptions = {
  seed: Number(arg('seed', '0')),
  resolution: Number(arg('resolution', '64')) as 64 | 32,
  split: arg('split', 'train') as 'train' | 'heldout',
  objectCount: objects === 'mixed' ? 'mixed' : (Number(objects) as 1 | 2),
};
const start = Number(arg('start', '0'));
const scale = Number(arg('scale', '2'));

const res = options.resolution!;
const gap = 4, cols = 8, count = 64, lineHeight = 7, charWidth = 4;
const samples = Array.from({ length: count }, (_, k) => generateSample(start + k, options));
const lines = samples.map((s, k) => `${String(k).padStart(2, '0')} ${s.captions[0]!}`);
const gridSide = cols * (res + gap) + gap;
const textWidth = Math.max(...lines.map((l) => l.length)) * charWidth + 2 * gap;
const width = gridSide + textWidth;
const height = Math.max(gridSide, count * lineHeight + 2 * gap);

const sheet = new Uint8Array(width * height * 3).fill(255);
samples.forEach((s, k) => {
  const ox = gap + (k % cols) * (res + gap), oy = gap + Math.floor(k / cols) * (res + gap);
  for (let y = 0; y < res; y++) sheet.set(s.image.subarray(y * res * 3, (y + 1) * res * 3), ((oy + y) * width + ox) * 3);
});
lines.forEach((line, row) => {
  [...line.toLowerCase()].forEach((ch, col) => {
    const glyph = (GLYPHS[ch] ?? GLYPHS['.']!).replaceAll(' ', '');
    for (let p = 0; p < 15; p++) {
      if (glyph[p] !== '#') continue;
      const x = gridSide + gap + col * charWidth + (p % 3), y = gap + row * lineHeight + Math.floor(p / 3);
      sheet.fill(0, (y * width + x) * 3, (y * width + x) * 3 + 3);
    }
  });
});

// Nearest-neighbour upscale so single pixels are visible.
const big = new Uint8Array(width * scale * height * scale * 3);
for (let y = 0; y < height * scale; y++) {
  for (let x = 0; x < width * scale; x++) {
    const src = (Math.floor(y / scale) * width + Math.floor(x / scale)) * 3;
    big.set(sheet.subarray(src, src + 3), (y * width * scale + x) * 3);
  }
}
writeFileSync(out, encodeRgbPng({ width: width * scale, height: height * scale, data: big }));
console.log(`wrote ${out} (${width * scale}×${height * scale}): samples ${start}..${start + count - 1}, ${JSON.stringify(options)}`);
for (const line of lines) console.log(line);
