// CLIP training guards, as the prior's: a non-finite parameter never replaces the last good
// checkpoint, and a resume with other settings or another model config is refused, naming them.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manualSeed } from '@sd/autograd';
import { readSafetensors } from '@sd/io';
import { DeviceArray } from '@sd/kernels';
import { CLIP, trainClip, type ClipConfig, type ClipTrainSettings, type ContrastiveModel } from '@sd/models';

// The real tokenizer's ids need the full vocabulary; everything else is as small as it goes.
const CONFIG: ClipConfig = {
  embedDim: 16,
  vision: { kind: 'vit', imageResolution: 32, patchSize: 8, width: 16, layers: 1, heads: 2 },
  text: { contextLength: 16, vocabSize: 49408, width: 16, heads: 2, layers: 1 },
};
const SETTINGS: ClipTrainSettings = { steps: 4, batchSize: 4, lr: 1e-3, weightDecay: 0.1, warmupSteps: 1, seed: 0, dataSeed: 7, logEvery: 1, checkpointEvery: 2 };

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const steps = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);

function tinyClip(): CLIP {
  manualSeed(0);
  return new CLIP(CONFIG);
}

describe('CLIP training', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sd-clip-train-'));
  const file = join(dir, 'checkpoint.safetensors');

  it('stops before saving non-finite parameters (finite loss) and keeps the last checkpoint byte for byte', async () => {
    let good = '';
    // NaN in one parameter after the update of step 4, a checkpoint step whose loss was computed
    // before that update: only the parameter check can stop the save.
    const corrupt = (step: number, model: ContrastiveModel) => {
      if (step !== 4) return;
      const p = model.logitScale;
      p.assign(DeviceArray.from(new Float32Array(p.size).fill(NaN), p.shape));
    };
    const run = trainClip(tinyClip(), SETTINGS, { outDir: dir, config: CONFIG, afterUpdate: corrupt, onStep: (r) => { if (r.step === 3) good = sha256(file); } });
    await expect(run).rejects.toThrow(/CLIP training diverged: parameters became NaN\/Inf by step 4; last good checkpoint: .*checkpoint\.safetensors/);
    expect(good).not.toBe('');
    expect(sha256(file)).toBe(good);
    expect(readSafetensors(file).metadata.step).toBe('2');
  });

  it('refuses to resume with other settings or model config, naming each', async () => {
    const before = sha256(file);
    const other: ClipConfig = { ...CONFIG, vision: { ...CONFIG.vision, heads: 4 } as ClipConfig['vision'] };
    await expect(trainClip(tinyClip(), { ...SETTINGS, lr: 2e-3, steps: 6 }, { outDir: dir, resume: true, config: other }))
      .rejects.toThrow(/cannot resume with different settings:\n\s+settings\.steps: checkpoint 4, requested 6\n\s+settings\.lr: checkpoint 0\.001, requested 0\.002\n\s+model\.vision\.heads: checkpoint 2, requested 4/);
    expect(sha256(file)).toBe(before);
  });

  it('resumes with the same settings, logging every step once', async () => {
    await trainClip(tinyClip(), SETTINGS, { outDir: dir, resume: true, config: CONFIG });
    expect(readSafetensors(file).metadata.step).toBe('4');
    expect(steps(dir)).toEqual([1, 2, 3, 4]);
  });
});
