// `sd encode` with several CLIPs (a MultiCLIP): each row is the concatenation of what each CLIP
// alone writes for that pair — with 'per-model' normalisation exactly, with 'none' each block is
// the same direction at the model's own scale (the seed's raw 1536-d layout). Tiny CLIP fixtures
// (a ViT and a ModifiedResNet) exported to the project's format so that the command can open them.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '@sd/io';
import { disposeModule, encodeRgbPng, exportClip, generateSample, loadClip } from '@sd/models';
import { encodeCommand } from '../../packages/cli/src/commands/encode.ts';

const FIXTURES = join(import.meta.dirname, '../fixtures/clip');
const meta = JSON.parse(readFileSync(join(FIXTURES, 'meta.json'), 'utf8'));
const root = mkdtempSync(join(tmpdir(), 'sd-encode-'));
const folder = join(root, 'images');
const clipA = join(root, 'vit.safetensors');
const clipB = join(root, 'rn.safetensors');

beforeAll(async () => {
  mkdirSync(folder);
  const lines: string[] = [];
  for (let i = 0; i < 3; i++) {
    const sample = generateSample(i, { seed: 0, resolution: 64 });
    writeFileSync(join(folder, `${i}.png`), encodeRgbPng({ width: 64, height: 64, data: sample.image }));
    lines.push(JSON.stringify({ file_name: `${i}.png`, text: sample.captions[0] }));
  }
  writeFileSync(join(folder, 'metadata.jsonl'), lines.join('\n') + '\n');
  for (const [file, path, heads] of [
    ['vit_jit.pt', clipA, meta.vit],
    ['rn_jit.pt', clipB, meta.rn],
  ] as const) {
    const model = loadClip(join(FIXTURES, file), { visionHeads: heads.vision_heads, textHeads: heads.transformer_heads });
    await exportClip(model, path);
    disposeModule(model);
  }
});
afterAll(() => {});

const encode = async (name: string, clip: string[], clipNormalize = 'per-model') => {
  const out = join(root, name);
  await encodeCommand(folder, { out, clip, clipNormalize });
  return { img: readNpy(join(out, 'img_emb', 'img_emb_0.npy')), txt: readNpy(join(out, 'text_emb', 'text_emb_0.npy')) };
};

const rowBlock = (a: { shape: number[]; data: Float32Array }, row: number, from: number, width: number) => Array.from(a.data.subarray(row * a.shape[1] + from, row * a.shape[1] + from + width));
const unit = (xs: number[]) => {
  const n = Math.hypot(...xs);
  return xs.map((x) => x / n);
};

describe('sd encode with several CLIPs', () => {
  it("'per-model': each row is the two single-CLIP rows side by side, exactly", async () => {
    const a = await encode('a', [clipA]);
    const b = await encode('b', [clipB]);
    const ab = await encode('ab', [clipA, clipB]);
    const [da, db] = [a.img.shape[1], b.img.shape[1]];
    expect(ab.img.shape).toEqual([3, da + db]);
    expect(ab.txt.shape).toEqual([3, da + db]);
    for (let r = 0; r < 3; r++) {
      for (const key of ['img', 'txt'] as const) {
        expect(rowBlock(ab[key], r, 0, da)).toEqual(rowBlock(a[key], r, 0, da));
        expect(rowBlock(ab[key], r, da, db)).toEqual(rowBlock(b[key], r, 0, db));
      }
    }
  });

  it("'none': each block has the single CLIP's direction but its own raw scale", async () => {
    const a = await encode('a2', [clipA]);
    const b = await encode('b2', [clipB]);
    const raw = await encode('raw', [clipA, clipB], 'none');
    const [da, db] = [a.img.shape[1], b.img.shape[1]];
    let notUnit = 0;
    for (let r = 0; r < 3; r++) {
      const blockA = rowBlock(raw.img, r, 0, da);
      const blockB = rowBlock(raw.img, r, da, db);
      unit(blockA).forEach((v, i) => expect(v).toBeCloseTo(rowBlock(a.img, r, 0, da)[i], 5));
      unit(blockB).forEach((v, i) => expect(v).toBeCloseTo(rowBlock(b.img, r, 0, db)[i], 5));
      if (Math.abs(Math.hypot(...blockA) - 1) > 1e-3) notUnit++;
    }
    expect(notUnit).toBeGreaterThan(0);
  });

  it('names a missing checkpoint and a bad normalisation mode', async () => {
    await expect(encode('bad', [clipA, join(root, 'missing.safetensors')])).rejects.toThrow(/missing\.safetensors: no CLIP checkpoint here/);
    await expect(encode('bad2', [clipA, clipB], 'l2')).rejects.toThrow(/--clip-normalize must be 'per-model' or 'none', got 'l2'/);
  });
});
