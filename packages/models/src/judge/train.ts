// Training the judge: cross-entropy on every labelled head of freshly rendered, augmented scenes,
// AdamW with warm-up and clipping, the project's run directory (config.json, atomic checkpoints,
// metrics.jsonl, bit-exact --resume) and a recorded step (training/recorded-step.ts).
import { crossEntropy, manualSeed, optim, saveCheckpoint, type Tensor } from '@sd/autograd';
import { purposeSeed } from '../data/prng.ts';
import { runCheckpointedSteps, type OptimizerSettings, type TrainRunOptions } from '../training/loop.ts';
import { RecordedSteps, StepInput } from '../training/recorded-step.ts';
import { openRun } from '../training/run-dir.ts';
import { judgeBatch, JUDGE_TEST_INDEX } from './data.ts';
import { HEAD_NAMES, UNLABELLED } from './labels.ts';
import { JudgeNet, type JudgeConfig } from './model.ts';

export interface JudgeTrainSettings extends OptimizerSettings {
  seed: number;
  checkpointEvery: number;
  logEvery: number;
}

export interface JudgeRunConfig {
  format: 'sd-judge/1';
  model: JudgeConfig;
  train: JudgeTrainSettings;
}

/** Scene indices of step `step`: consecutive, so no scene repeats within a run of < 1e9 images. */
export function judgeStepIndices(step: number, batchSize: number): Int32Array {
  const first = step * batchSize;
  if (first + batchSize > JUDGE_TEST_INDEX) throw new Error(`judge training: step ${step} would reach the test scenes (index ${JUDGE_TEST_INDEX})`);
  return Int32Array.from({ length: batchSize }, (_, k) => first + k);
}

export async function trainJudge(model: JudgeConfig, settings: JudgeTrainSettings, options: TrainRunOptions<JudgeNet>): Promise<{ judge: JudgeNet; step: number; lastLoss: number }> {
  const config: JudgeRunConfig = { format: 'sd-judge/1', model, train: settings };
  const run = openRun(options.outDir, config, { resume: options.resume, kind: 'judge' });
  manualSeed(purposeSeed(settings.seed, 'judge/init'));
  const judge = new JudgeNet(model);
  const params = judge.parameters();
  const opt = new optim.AdamW(params, { lr: settings.lr, betas: settings.betas, weightDecay: settings.weightDecay, eps: settings.eps });
  opt.schedule = optim.linearWarmup(settings.warmupSteps);
  if (run.resumeFrom) {
    judge.loadStateDict(run.resumeFrom.groups.model, { source: run.checkpointPath });
    opt.loadStateDict(run.resumeFrom.groups.optim);
  }
  const B = settings.batchSize;
  const side = model.side;
  const images = new StepInput([B, 3, side, side], 'f32');
  const labels = Object.fromEntries(HEAD_NAMES.map((h) => [h, new StepInput([B], 'i32')]));
  const steps = new RecordedSteps({
    inputs: (current) => {
      const batch = judgeBatch(judgeStepIndices(current, B), purposeSeed(settings.seed, 'judge/augment'), side);
      images.write(batch.images);
      for (const h of HEAD_NAMES) labels[h].write(batch.labels[h]);
    },
    compute: () => {
      const logits = judge.forward(images.tensor);
      let loss: Tensor | null = null;
      for (const h of HEAD_NAMES) {
        const l = crossEntropy(logits[h], labels[h].tensor, { ignoreIndex: UNLABELLED });
        loss = loss ? loss.add(l) : l;
      }
      loss!.backward();
      opt.update({ maxGradNorm: settings.maxGradNorm });
      opt.zeroGrad();
      return loss!.detach();
    },
    enabled: options.record ?? true,
  });
  try {
    const done = await runCheckpointedSteps({
      from: run.step,
      steps: settings.steps,
      stopAfter: options.stopAfter,
      logEvery: settings.logEvery,
      checkpointEvery: settings.checkpointEvery,
      metricsPath: run.metricsPath,
      checkpointPath: run.checkpointPath,
      params,
      onStep: options.onStep,
      afterUpdate: (step) => options.afterUpdate?.(step, judge),
      save: (step) => saveCheckpoint(run.checkpointPath, { model: judge.stateDict(), optim: opt.stateDict() }, { config: JSON.stringify(config), step: String(step) }),
      runStep: (step) => ({ lr: opt.currentLr(), loss: steps.run(step) }),
    });
    return { judge, ...done };
  } finally {
    steps.dispose();
    images.dispose();
    for (const l of Object.values(labels)) l.dispose();
    opt.dispose();
  }
}
