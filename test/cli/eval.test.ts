// `sd eval` end to end on a tiny random decoder and VAE (64-pixel images, as the judge reads), the
// committed default CLIP, judge and priors, and the committed validation split: the report's numbers
// for one arm are recomputed independently (the images decoded batch by batch from the same noise
// stream, read by the judge against what each caption names, embedded by the CLIP by hand); the
// priors of two training seeds against the one-seed run; with --no-images, the per-caption diversity
// alone.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manualSeed } from '@sd/autograd';
import {
  AutoencoderKL, DECODER_SCHEDULER_CONFIG, UNet2DConditionModel, UNet2DConditionModelEmb, HEAD_NAMES, UNLABELLED, buildDecoderUnet, captionMentions, decodeEmbeddings, embedImages, embeddedDataDir, embeddedSplitRow,
  defaultPriorPath, imageBatch, judgeLabels, loadDefaultClip, loadEmbeddingPairs, loadJudge, purposeGenerator, readImages,
} from '@sd/models';
import { evalCommand, meanOverSeeds } from '../../packages/cli/src/commands/eval.ts';
import type { EvalCli } from '../../packages/cli/src/options.ts';
import { TINY_UNET } from '../util/tiny-pipeline.ts';

const VAE_64: Record<string, unknown> = {
  down_block_types: Array(3).fill('DownEncoderBlock2D'), up_block_types: Array(3).fill('UpDecoderBlock2D'),
  block_out_channels: [4, 8, 8], layers_per_block: 1, latent_channels: 4, norm_num_groups: 4, sample_size: 64, scaling_factor: 0.6,
};

describe('sd eval', () => {
  it('decodes every arm with the same noise and scores it; one arm recomputed by hand', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sd-eval-'));
    manualSeed(11);
    const unet = buildDecoderUnet({ ...TINY_UNET, sample_size: 16, input_dim: 64 }, 3);
    await unet.savePretrained(join(root, 'decoder'));
    writeFileSync(join(root, 'decoder', 'scheduler_config.json'), JSON.stringify(DECODER_SCHEDULER_CONFIG));
    manualSeed(12);
    const vae0 = new AutoencoderKL(VAE_64);
    await vae0.savePretrained(join(root, 'vae'));
    for (const m of [unet, vae0]) m.dispose();
    const o: EvalCli = {
      split: 'validation', n: '8', arms: 'shifted,baseline,text,ridge,oracle', steps: '2', guidance: '1,2', scheduler: 'ddim', seed: '0', batchSize: '5',
      priorSteps: '2', bootstrap: '20', diversity: '0', diversitySamples: '2', images: true, decoder: join(root, 'decoder'), vae: join(root, 'vae'), out: join(root, 'eval'),
    };
    const report = await evalCommand(o);
    for (const f of ['eval.json', 'grid-guidance-1.png', 'grid-guidance-2.png', 'fid-vs-clip.png']) expect(existsSync(join(o.out, f)), f).toBe(true);
    expect(JSON.parse(readFileSync(join(o.out, 'eval.json'), 'utf8')).n).toBe(8);
    expect(Object.keys(report.images['2'])).toEqual(['shifted', 'baseline', 'text', 'ridge', 'oracle']);
    expect(report.shiftedMinusBaseline['2']['judge count'].estimate).toBeCloseTo(report.images['2'].shifted!.judge.perHead.count - report.images['2'].baseline!.judge.perHead.count, 12);

    // The oracle arm at guidance 2, by hand: the stored image embeddings of the split's first 8 rows.
    const stored = loadEmbeddingPairs(join(embeddedDataDir(), 'validation'));
    const dim = stored.dim;
    const emb = stored.image.slice(0, 8 * dim);
    for (let r = 0; r < 8; r++) {
      const norm = Math.hypot(...emb.subarray(r * dim, (r + 1) * dim));
      for (let d = 0; d < dim; d++) emb[r * dim + d] /= norm;
    }
    const u = UNet2DConditionModel.fromPretrained(o.decoder!) as UNet2DConditionModelEmb;
    const vae = AutoencoderKL.fromPretrained(o.vae!).eval();
    const generator = purposeGenerator(0, 'eval/decoder');
    const pixels: number[] = [];
    for (const [from, to] of [[0, 5], [5, 8]]) {
      const d = await decodeEmbeddings(u, vae, emb.subarray(from * dim, to * dim), to - from, { steps: 2, guidance: 2, sampler: 'ddim', schedulerConfig: DECODER_SCHEDULER_CONFIG, side: 16, generator });
      pixels.push(...d.pixels);
    }
    const images = Uint8Array.from(pixels);
    const floats = imageBatch({ pixels: images, count: 8, side: 64, source: 'by hand' }, Int32Array.from({ length: 8 }, (_, i) => i));
    const judge = loadJudge();
    const reading = await readImages(judge, floats, 8);
    const rows = Array.from({ length: 8 }, (_, i) => embeddedSplitRow('validation', i));
    const got = report.images['2'].oracle!;
    for (const h of HEAD_NAMES) {
      let right = 0;
      let total = 0;
      rows.forEach((r, i) => {
        const m = captionMentions(r.caption);
        const label = (h === 'size' || h === 'position' || h === 'background') && !m[h] ? UNLABELLED : judgeLabels(r.sample.attributes)[h];
        if (label === UNLABELLED) return;
        total++;
        if (reading.predictions[h][i] === label) right++;
      });
      if (total) expect(got.judge.perHead[h], h).toBeCloseTo(right / total, 12);
      else expect(got.judge.perHead[h], h).toBeNaN();
    }
    const clip = loadDefaultClip();
    const e = await embedImages(clip, Array.from({ length: 8 }, (_, i) => ({ data: images.subarray(i * 64 * 64 * 3, (i + 1) * 64 * 64 * 3), width: 64, height: 64 })));
    let cos = 0;
    for (let i = 0; i < 8; i++) {
      const a = e.subarray(i * dim, (i + 1) * dim);
      const t = stored.text.subarray(i * dim, (i + 1) * dim);
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += a[d] * t[d];
      cos += dot / Math.hypot(...a) / Math.hypot(...t);
    }
    expect(got.clipImageText).toBeCloseTo(cos / 8, 5);
    for (const m of [judge, clip, vae, u]) for (const p of m.parameters()) p.dispose();

    // Two training seeds (--priors DIR/seed-N/): seed 0 the committed pair, seed 1 the same pair swapped.
    // Seed 0 reproduces the one-seed run; each prior row is the mean over seeds, so here the two rows
    // agree and every shifted − baseline estimate (a mean of opposite differences) is 0.
    const priors = join(root, 'priors');
    for (const [seedDir, shifted, baseline] of [['seed-0', 'shifted', 'baseline'], ['seed-1', 'baseline', 'shifted']]) {
      for (const [arm, from] of [['shifted', shifted], ['baseline', baseline]]) {
        mkdirSync(join(priors, seedDir, arm), { recursive: true });
        copyFileSync(defaultPriorPath(from as 'shifted' | 'baseline'), join(priors, seedDir, arm, 'checkpoint.safetensors'));
      }
    }
    const seeded = await evalCommand({ ...o, arms: 'shifted,baseline,text', guidance: '2', priors, out: join(root, 'eval-seeds') });
    expect(seeded.seeds!.runs.map((r) => r.shifted)).toEqual([join(priors, 'seed-0', 'shifted'), join(priors, 'seed-1', 'shifted')]);
    expect(seeded.seeds!.images['2'].shifted![0]).toEqual(report.images['2'].shifted);
    expect(seeded.seeds!.images['2'].shifted![1]).toEqual(report.images['2'].baseline);
    expect(seeded.images['2'].text).toEqual(report.images['2'].text);
    expect(seeded.images['2'].shifted!.judgeFid).toBeCloseTo((report.images['2'].shifted!.judgeFid + report.images['2'].baseline!.judgeFid) / 2, 9);
    expect(seeded.embeddings.shifted!.frechet).toBeCloseTo((report.embeddings.shifted!.frechet + report.embeddings.baseline!.frechet) / 2, 12);
    for (const [k, c] of Object.entries(seeded.shiftedMinusBaseline['2'])) expect(Math.abs(c.estimate), k).toBeLessThan(1e-9);
    await expect(evalCommand({ ...o, priors, shifted: 'shifted' })).rejects.toThrow('sd eval: give --priors (or --full) or --shifted/--baseline, not both');
    await expect(evalCommand({ ...o, full: true, priors: join(priors, 'seed-0') })).rejects.toThrow(/--full: .*seed-0 holds the priors of one training seed/);
  });

  it('--no-images: per-caption diversity without a decoder; deterministic arms have none, the priors and the real renders some', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'sd-eval-div-')), 'eval');
    const o: EvalCli = {
      split: 'validation', n: '4', arms: 'shifted,baseline,text,ridge,oracle', steps: '1', guidance: '1', scheduler: 'ddim', seed: '0', batchSize: '4',
      priorSteps: '2', bootstrap: '20', diversity: '24', diversitySamples: '3', images: false, decoder: '/nonexistent', vae: '/nonexistent', out,
    };
    const report = await evalCommand(o);
    expect(report.images).toEqual({});
    expect(JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8')).diversity.captions).toBe(24);
    const d = report.diversity!;
    const under = Array.from({ length: 24 }, (_, i) => captionMentions(embeddedSplitRow('validation', i).caption)).filter((m) => !m.size && !m.position && !m.background).length;
    expect([d.samples, d.underSpecified]).toEqual([3, under]);
    expect(Object.keys(d.arms)).toEqual(['shifted', 'baseline', 'text', 'ridge']);
    // The same text gives the same embedding through a map: no spread at all.
    for (const arm of ['text', 'ridge'] as const) expect([d.arms[arm]!.all.spread, d.arms[arm]!.all.ratio]).toEqual([0, 0]);
    // A prior samples; the renders of a caption differ (jitter and rotation at least).
    for (const arm of ['shifted', 'baseline'] as const) expect(d.arms[arm]!.all.spread).toBeGreaterThan(0);
    expect(d.real.all).toBeGreaterThan(0);
    // Under-specified captions leave size, position and background free: their real renders spread more.
    expect(under).toBeGreaterThan(0);
    expect(d.real.underSpecified).toBeGreaterThan(d.real.all);
    expect(d.shiftedMinusBaseline!.all.estimate).toBeCloseTo(d.arms.shifted!.all.ratio - d.arms.baseline!.all.ratio, 12);
  });

  it('meanOverSeeds averages every number of nested metrics; an undefined number stays undefined; other shapes are refused', () => {
    const a = { fid: 10, judge: { perHead: { shape: 0.5 }, byPairs: [0.2, null] }, name: 'x', kid: { mean: 1, std: 0 } };
    const b = { fid: 20, judge: { perHead: { shape: 0.25 }, byPairs: [0.4, 0.5] }, name: 'x', kid: { mean: 3, std: 2 } };
    expect(meanOverSeeds([a, b])).toEqual({ fid: 15, judge: { perHead: { shape: 0.375 }, byPairs: [expect.closeTo(0.3, 12), null] }, name: 'x', kid: { mean: 2, std: 1 } });
    expect(meanOverSeeds([{ v: NaN }, { v: 1 }]).v).toBeNaN();
    expect(() => meanOverSeeds([{ v: 1 }, { v: { w: 1 } }])).toThrow(/differ in shape/);
    expect(() => meanOverSeeds([{ v: { w: 1 } }, { v: null }])).toThrow(/missing for some seeds only/);
    expect(() => meanOverSeeds([{ name: 'x' }, { name: 'y' }])).toThrow(/disagree on a non-numeric value/);
  });

  it('names bad arms, splits and sizes', async () => {
    const base: EvalCli = {
      split: 'validation', n: '8', arms: 'text', steps: '1', guidance: '1', scheduler: 'ddim', seed: '0', batchSize: '4', priorSteps: '1', bootstrap: '20',
      diversity: '0', diversitySamples: '2', images: true, out: '/tmp/unused',
    };
    await expect(evalCommand({ ...base, arms: 'text,clip' })).rejects.toThrow('--arms: unknown arm "clip" (choose from shifted, baseline, text, ridge, oracle)');
    await expect(evalCommand({ ...base, split: 'train' })).rejects.toThrow('--split must be one of validation, test, got "train"');
    await expect(evalCommand({ ...base, guidance: '1,x' })).rejects.toThrow(/--guidance/);
    await expect(evalCommand({ ...base, diversitySamples: '1' })).rejects.toThrow(/--diversity-samples/);
  });
});
