// Training-step throughput of the small models in test/util/tiny-models.ts (steps/s = 1 / time per
// repetition). Setup also prints where a step's time goes: the JavaScript that records the graph and
// encodes the kernels (performance.now() around the step, before any sync) versus the whole step
// including the GPU (the same, through `await rt().sync()`). Each step is measured eagerly (the
// reference) and replayed from a recording (`record`, which skips the step's JavaScript).
import { manualSeed, optim, randn, record, tensor, type Tensor } from '@sd/autograd';
import { rt } from '@sd/kernels';
import { charData, disposeModule, TinyConvNet, TinyTransformer, trainStep } from '../../test/util/tiny-models.ts';
import type { BenchCase } from '../harness.ts';

export const TRANSFORMER_TEXT = 'the quick brown fox jumps over the lazy dog.';

export interface StepSetup {
  step(): void;
  dispose(): void;
}

/** Mean JS-encode and wall time per step over `steps` steps (after `warmup` steps that compile shaders). */
export async function measureStepSplit(step: () => void, steps = 5, warmup = 2): Promise<{ jsMs: number; wallMs: number }> {
  for (let i = 0; i < warmup; i++) step();
  await rt().sync();
  let js = 0;
  let wall = 0;
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step();
    const t1 = performance.now();
    await rt().sync();
    const t2 = performance.now();
    js += t1 - t0;
    wall += t2 - t0;
  }
  return { jsMs: js / steps, wallMs: wall / steps };
}

/**
 * A bench case's step as `variant`: as it is, or replayed from a recording made after one eager
 * step (which creates the optimizer state), as the trainers do.
 */
export function stepVariant(step: () => void, dispose: () => void, variant: 'eager' | 'recorded'): { run(): void; dispose(): void; dispatches: number | null } {
  if (variant === 'eager') return { run: step, dispose, dispatches: null };
  step();
  const recorded = record(step);
  return { run: () => void recorded.run(), dispose: () => (recorded.dispose(), dispose()), dispatches: recorded.dispatches };
}

/** Eager steps, or replays of a step recorded after one eager step (which creates the optimizer state). */
function stepCase(kernel: string, shape: string, make: () => StepSetup, variant: 'eager' | 'recorded'): BenchCase {
  return {
    kernel,
    shape,
    variant,
    reference: variant === 'eager',
    async setup() {
      const s = make();
      const { run, dispose, dispatches } = stepVariant(s.step, s.dispose, variant);
      const { jsMs, wallMs } = await measureStepSplit(run);
      console.log(`${kernel} ${shape} (${variant}): JS ${jsMs.toFixed(1)} ms of ${wallMs.toFixed(1)} ms per step (${((100 * jsMs) / wallMs).toFixed(0)}%${dispatches === null ? '' : `, ${dispatches} dispatches`})`);
      return { run, dispose };
    },
  };
}

export function transformerStep(): StepSetup {
  manualSeed(0);
  const data = charData(TRANSFORMER_TEXT);
  const model = new TinyTransformer({ vocab: data.vocab, context: 64, dim: 32, heads: 2, layers: 2 });
  const opt = new optim.AdamW(model.parameters(), { lr: 3e-3 });
  return {
    step: () => trainStep(model, opt, data.ids, data.targets, { maxGradNorm: 1 }).dispose(),
    dispose: () => {
      opt.dispose();
      disposeModule(model);
      data.ids.dispose();
      data.targets.dispose();
    },
  };
}

export function convStep(): StepSetup {
  manualSeed(0);
  const model = new TinyConvNet(3, 8);
  const opt = new optim.AdamW(model.parameters(), { lr: 3e-3 });
  const images: Tensor = randn([8, 3, 16, 16]).keep();
  const labels: Tensor = tensor([0, 1, 2, 3, 4, 5, 6, 7], [8], { dtype: 'i32' }).keep();
  return {
    step: () => trainStep(model, opt, images, labels).dispose(),
    dispose: () => {
      opt.dispose();
      disposeModule(model);
      images.dispose();
      labels.dispose();
    },
  };
}

const TRANSFORMER_SHAPE = `tiny transformer (2 layers, d 32, seq ${TRANSFORMER_TEXT.length - 1}) fwd+bwd+AdamW`;
const CONV_SHAPE = 'tiny conv net (2 conv + GroupNorm, [8,3,16,16]) fwd+bwd+AdamW';
export const cases: BenchCase[] = [
  stepCase('train-step', TRANSFORMER_SHAPE, transformerStep, 'eager'),
  stepCase('train-step', TRANSFORMER_SHAPE, transformerStep, 'recorded'),
  stepCase('train-step', CONV_SHAPE, convStep, 'eager'),
  stepCase('train-step', CONV_SHAPE, convStep, 'recorded'),
];
