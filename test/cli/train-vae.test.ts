// `sd train-vae` end to end on a four-image folder without captions, and its refusals: a used run
// directory (before any image is read), an empty or missing folder, and an image of the wrong size
// or unreadable, each named.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AutoencoderKL, encodeRgbPng, generateSample } from '@sd/models';
import { trainVaeCommand } from '../../packages/cli/src/commands/train-vae.ts';
import type { TrainVaeCli } from '../../packages/cli/src/options.ts';

const root = mkdtempSync(join(tmpdir(), 'sd-train-vae-'));
const cli = (o: Partial<TrainVaeCli>): TrainVaeCli => ({ steps: '2', batchSize: '2', lr: '1e-3', klWeight: '1e-6', seed: '0', zeroShotCount: '500', widths: '8,16,32', normGroups: '8', crop: '64', cropShare: '1', schedule: 'constant', out: join(root, 'unused'), ...o });

/** An imagefolder whose metadata lines name files only (the VAE never reads captions). */
function folder(name: string, images: Record<string, Uint8Array>): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, bytes] of Object.entries(images)) writeFileSync(join(dir, file), bytes);
  writeFileSync(join(dir, 'metadata.jsonl'), Object.keys(images).map((f) => JSON.stringify({ file_name: f }) + '\n').join(''));
  return dir;
}

const png = (index: number, side: 32 | 64 = 64) => encodeRgbPng({ width: side, height: side, data: generateSample(index, { seed: 0, resolution: side }).image });

describe('sd train-vae', () => {
  it('trains on a folder without captions and writes the run, its evaluation and a diffusers folder', async () => {
    const data = folder('four', { 'a.png': png(0), 'b.png': png(1), 'c.png': png(2), 'd.png': png(3) });
    const out = join(root, 'run');
    await trainVaeCommand(cli({ data, holdout: '1', out }));
    for (const f of ['config.json', 'checkpoint.safetensors', 'metrics.jsonl', 'loss.png', 'eval.json', 'scaling.json', 'reconstructions.png']) expect(existsSync(join(out, f)), f).toBe(true);
    const evaluation = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8'));
    expect(evaluation.reconstruction.count).toBe(1);
    expect(Number.isFinite(evaluation.reconstruction.psnr)).toBe(true);
    expect(evaluation.scaling.images).toBe(3);
    expect(evaluation.zeroShot).toBeNull(); // the folder's images have no known attributes
    expect(AutoencoderKL.fromPretrained(join(out, 'final')).scalingFactor).toBe(evaluation.scaling.scalingFactor);
    // The same command again is refused before any image is read (this --data does not exist).
    await expect(trainVaeCommand(cli({ data: join(root, 'nowhere'), out }))).rejects.toThrow(/already holds a run .*continue it with --resume/);
  });

  it('refuses a missing or empty folder, and one whose metadata lists nothing', async () => {
    await expect(trainVaeCommand(cli({ data: join(root, 'nowhere') }))).rejects.toThrow(/nowhere: no such image folder/);
    mkdirSync(join(root, 'empty'));
    await expect(trainVaeCommand(cli({ data: join(root, 'empty') }))).rejects.toThrow(/empty: the image folder is empty/);
    await expect(trainVaeCommand(cli({ data: folder('no-lines', {}) }))).rejects.toThrow(/no-lines: the imagefolder lists no images/);
  });

  it('names an image of the wrong size and an unreadable image', async () => {
    const small = folder('small', { 'ok.png': png(0), 'small.png': png(1, 32) });
    await expect(trainVaeCommand(cli({ data: small }))).rejects.toThrow(/small\.png: the image is 32×32; the VAE trains on 64×64 images/);
    const broken = folder('broken', { 'ok.png': png(0), 'broken.png': new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]) });
    await expect(trainVaeCommand(cli({ data: broken }))).rejects.toThrow(/image file "broken\.png" is unreadable/);
  });

  it('refuses bad numbers before anything is read', async () => {
    await expect(trainVaeCommand(cli({ klWeight: '-1', data: join(root, 'nowhere') }))).rejects.toThrow('--kl-weight must be a number ≥ 0, got "-1"');
    await expect(trainVaeCommand(cli({ crop: '30', data: join(root, 'nowhere') }))).rejects.toThrow('--crop must be a multiple of 4 (the VAE\'s downscale factor: whole latent pixels), got "30"');
    await expect(trainVaeCommand(cli({ crop: '128', data: join(root, 'nowhere') }))).rejects.toThrow('--crop must be an integer in [4, 64], got "128"');
    await expect(trainVaeCommand(cli({ widths: '8,12,32', data: join(root, 'nowhere') }))).rejects.toThrow('--widths 8,12,32: 12 is not divisible by --norm-groups 8 (GroupNorm splits every width into that many groups)');
    await expect(trainVaeCommand(cli({ widths: '8,16', normGroups: '2', data: join(root, 'nowhere') }))).rejects.toThrow('--widths must be three channel counts, one per block, got "8,16"');
    await expect(trainVaeCommand(cli({ cropShare: '2', data: join(root, 'nowhere') }))).rejects.toThrow('--crop-share must be a number in [0, 1], got "2"');
    await expect(trainVaeCommand(cli({ schedule: 'cosin', data: join(root, 'nowhere') }))).rejects.toThrow('--schedule must be one of constant, cosine, got "cosin"');
    await expect(trainVaeCommand(cli({ holdout: '4', data: folder('holdout', { 'a.png': png(0), 'b.png': png(1) }) }))).rejects.toThrow(/--holdout 4 leaves no training images/);
  });
});
