// The judge: its labels are the generator's attributes (single-object scenes labelled on every
// head, two-object scenes on count and background only); its accuracy rule against a direct count;
// the blur against a direct 3×3 mean; and a short training run: the loss falls, and recorded steps
// give the bits of eager ones.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '@sd/io';
import { accuracy, boxBlur, DEFAULT_DATA_SEED, evaluateJudge, judgeImageSet, oracleImages, HEAD_NAMES, JUDGE_HEADS, judgeAssetPath, judgeBatch, judgeLabels, judgeScene, loadJudge, trainJudge, UNLABELLED, type JudgeTrainSettings } from '@sd/models';

const TINY = { side: 64, widths: [4, 8, 8, 8] as [number, number, number, number], features: 16 };
const SETTINGS: JudgeTrainSettings = { steps: 40, batchSize: 16, lr: 1e-2, betas: [0.9, 0.999], weightDecay: 0.01, eps: 1e-8, maxGradNorm: 1, warmupSteps: 2, seed: 0, checkpointEvery: 20, logEvery: 4 };

describe('judge', () => {
  it('labels are the scene attributes; two-object scenes are labelled on count and background only', () => {
    let singles = 0;
    let pairs = 0;
    for (let i = 0; i < 60; i++) {
      const a = judgeScene(i);
      const l = judgeLabels(a);
      expect(JUDGE_HEADS.background[l.background]).toBe(a.background);
      expect(l.count).toBe(a.objects.length - 1);
      if (a.objects.length === 1) {
        singles++;
        const o = a.objects[0];
        expect([JUDGE_HEADS.shape[l.shape], JUDGE_HEADS.colour[l.colour], JUDGE_HEADS.size[l.size], JUDGE_HEADS.position[l.position]]).toEqual([o.shape, o.colour, o.size, o.position]);
      } else {
        pairs++;
        expect([l.shape, l.colour, l.size, l.position]).toEqual([UNLABELLED, UNLABELLED, UNLABELLED, UNLABELLED]);
      }
    }
    expect(singles).toBeGreaterThan(20);
    expect(pairs).toBeGreaterThan(5);
  });

  it('accuracy counts labelled images per head, all-correct over single-object images, and splits by pairs', () => {
    const labels = Object.fromEntries(HEAD_NAMES.map((h) => [h, Int32Array.of(0, 1, UNLABELLED)])) as never as Parameters<typeof accuracy>[1];
    labels.count = Int32Array.of(0, 0, 1);
    labels.background = Int32Array.of(2, 2, 3);
    const predictions = Object.fromEntries(HEAD_NAMES.map((h) => [h, Int32Array.from(labels[h], (v) => Math.max(0, v))])) as never as Parameters<typeof accuracy>[0];
    predictions.shape = Int32Array.of(0, 0, 5); // image 1's shape wrong
    const r = accuracy(predictions, labels, [false, true, true]);
    expect(r.perHead.shape).toBe(0.5);
    expect(r.perHead.colour).toBe(1);
    expect(r.perHead.background).toBe(1);
    expect(r.allCorrect).toBe(0.5);
    expect(r.byPairs['train pairs'].shape).toBe(1);
    expect(r.byPairs['held-out pairs'].shape).toBe(0);
  });

  it('boxBlur is the 3×3 mean with clamped edges', () => {
    const side = 4;
    const rgb = Uint8Array.from({ length: side * side * 3 }, (_, i) => (i * 37) % 256);
    const out = boxBlur(rgb, side);
    const at = (y: number, x: number, c: number) => rgb[(Math.min(side - 1, Math.max(0, y)) * side + Math.min(side - 1, Math.max(0, x))) * 3 + c];
    for (const [y, x, c] of [[0, 0, 0], [1, 2, 1], [3, 3, 2]]) {
      let s = 0;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) s += at(y + dy, x + dx, c);
      expect(out[(y * side + x) * 3 + c]).toBe(Math.round(s / 9));
    }
    const clean = judgeBatch([3], null);
    expect(Math.min(...clean.images)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...clean.images)).toBeLessThanOrEqual(1);
  });

  it('trains: the loss falls; recorded steps give the bits of eager steps', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sd-judge-'));
    const a = await trainJudge(TINY, SETTINGS, { outDir: join(root, 'recorded') });
    const b = await trainJudge(TINY, SETTINGS, { outDir: join(root, 'eager'), record: false });
    const losses = (dir: string) => readFileSync(join(root, dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss as number);
    expect(losses('recorded')).toEqual(losses('eager'));
    const l = losses('recorded');
    expect((l.at(-1)! + l.at(-2)!) / 2).toBeLessThan(0.85 * (l[0] + l[1]) / 2);
    const x = readSafetensors(join(root, 'recorded', 'checkpoint.safetensors')).tensors;
    const y = readSafetensors(join(root, 'eager', 'checkpoint.safetensors')).tensors;
    for (const [name, t] of x) expect(Array.from(y.get(name)!.data), name).toEqual(Array.from(t.data));
    for (const j of [a.judge, b.judge]) for (const p of j.parameters()) p.dispose();
  }, 120_000);
});

describe('the committed judge', () => {
  it('loads, names its command and accuracies, and reads fresh test renders as its metadata says', async () => {
    const file = readSafetensors(judgeAssetPath());
    expect(file.metadata.command).toMatch(/^pnpm train:judge .*--export$/);
    const recorded = JSON.parse(file.metadata.accuracy);
    const judge = loadJudge();
    // The first 300 of the 2000 test renders it was scored on: every head within 2 points of the recorded accuracy.
    const now = await evaluateJudge(judge, 300);
    for (const h of HEAD_NAMES) expect(now.perHead[h], h).toBeGreaterThan(recorded.perHead[h] - 0.02);
    for (const p of judge.parameters()) p.dispose();
  });
});

describe('judgeImageSet', () => {
  it('reads known scenes from an image set (the oracle check\'s real images) and refuses another image size', async () => {
    const judge = loadJudge();
    const { images, attributes } = oracleImages(40, DEFAULT_DATA_SEED, 64);
    const r = await judgeImageSet(judge, images, attributes);
    for (const h of HEAD_NAMES) expect(r.perHead[h], h).toBeGreaterThanOrEqual(0.95);
    expect(r.byPairs['train pairs'].shape).toBeNaN(); // the oracle images are all held-out pairs
    const small = oracleImages(2, DEFAULT_DATA_SEED, 32);
    await expect(judgeImageSet(judge, small.images, small.attributes)).rejects.toThrow(/reads 64×64 images, the set .* has 32×32/);
    for (const p of judge.parameters()) p.dispose();
  });
});
