// The out-of-the-box path: with no runs/ directory (a fresh clone), `sd sample` finds the committed
// default VAE, decoder and prior pair under packages/models/assets/ and writes an image; each asset
// carries the command that reproduces it and its measured metrics, and all of them fit the 25 MB budget.
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readSafetensors } from '@sd/io';
import { decodeRgb, defaultDecoderDir, defaultPriorPath, defaultVaeDir } from '@sd/models';
import { sampleCommand } from '../../packages/cli/src/commands/sample.ts';

const here = process.cwd();
afterEach(() => process.chdir(here));

describe('committed defaults', () => {
  it('sd sample in a directory without runs/ uses them and writes an image', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'sd-fresh-'));
    process.chdir(fresh);
    const log = vi.spyOn(console, 'log');
    try {
      await sampleCommand(['a red star'], { prior: 'shifted', n: '1', steps: '2', guidance: '3', seed: '0', out: 'star.png' });
      const said = log.mock.calls.map((c) => String(c[0]));
      expect(said).toContain(`prior: ${defaultPriorPath('shifted')} (committed default)`);
      expect(said).toContain(`decoder: ${defaultDecoderDir()} (committed default)`);
      expect(said).toContain(`VAE: ${defaultVaeDir()} (committed default)`);
    } finally {
      log.mockRestore();
    }
    const png = decodeRgb(readFileSync(join(fresh, 'star.png')), 'star.png');
    expect([png.width, png.height]).toEqual([64, 64]);
    // Not a flat field: the decoder drew something.
    const values = new Set(png.data);
    expect(values.size).toBeGreaterThan(20);
  });

  it('each asset names the command that reproduces it and its metrics; together they fit 25 MB', () => {
    for (const dir of [defaultVaeDir(), defaultDecoderDir()]) {
      const meta = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8'));
      expect(meta.command, dir).toMatch(/^pnpm (train:vae|train:decoder)/);
      expect(meta.trainConfig.train.steps, dir).toBeGreaterThan(0);
    }
    const vae = JSON.parse(readFileSync(join(defaultVaeDir(), 'metadata.json'), 'utf8'));
    expect(vae.eval.reconstruction.psnr).toBeGreaterThan(20);
    expect(vae.eval.zeroShot.count).toBe(500);
    const decoder = JSON.parse(readFileSync(join(defaultDecoderDir(), 'metadata.json'), 'utf8'));
    expect(decoder.oracle.command).toMatch(/^pnpm sd eval-decoder/);
    for (const kind of ['shifted', 'baseline'] as const) {
      const file = readSafetensors(defaultPriorPath(kind));
      expect(file.metadata.command).toMatch(/^pnpm train:prior/);
      expect(JSON.parse(file.metadata.eval).recallAt1).toBeGreaterThan(0);
      expect([...file.tensors.keys()].some((k) => k.startsWith('optim.'))).toBe(false);
    }
    const size = (dir: string): number => readdirSync(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);
    const total = size(defaultVaeDir()) + size(defaultDecoderDir()) + size(join(defaultPriorPath('shifted'), '..'));
    expect(total).toBeLessThan(25e6);
  });
});
