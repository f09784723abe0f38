// The denoising loop every pipeline repeats: scale the input, call the model, step, free the rest.
import { mul, noGrad, tidy, type Generator, type Tensor } from '@sd/autograd';
import type { DiffusionScheduler } from './scheduler.ts';

/** The denoiser at one step: the scaled sample and its timestep → the model output (ε, v or x₀). */
export type DenoiseModel = (input: Tensor, timestep: number) => Tensor | Promise<Tensor>;

export interface SampleLoopOptions {
  /** Calls setTimesteps(steps) first; otherwise the scheduler's current timesteps are used. */
  steps?: number;
  /** For stochastic schedulers' noise (the autograd default generator when absent). */
  generator?: Generator;
  /** DDIM's η (ignored by the other schedulers). */
  eta?: number;
  /** Sees each new sample; it is freed after the next step, so read or copy it here. */
  onStep?: (index: number, timestep: number, sample: Tensor) => void | Promise<void>;
}

/**
 * Runs the scheduler from x_T = initNoiseSigma·noise (noise ~ N(0, I), left to the caller) to the final
 * sample, without recording gradients. Each step runs in its own `tidy`, so only the current sample
 * (and a multistep scheduler's history) stay allocated; the loop yields to the event loop between
 * steps, which Dawn needs to process completions during long loops.
 */
export async function sampleLoop(scheduler: DiffusionScheduler, model: DenoiseModel, noise: Tensor, options: SampleLoopOptions = {}): Promise<Tensor> {
  if (options.steps !== undefined) scheduler.setTimesteps(options.steps);
  if (scheduler.numInferenceSteps === null) throw new Error('sampleLoop: call scheduler.setTimesteps or pass steps');
  const stepOptions = { generator: options.generator, eta: options.eta };
  scheduler.reset(); // a trajectory abandoned earlier must not leak its history into this one
  const timesteps = [...scheduler.timesteps];
  return noGrad(async () => {
    let x = mul(noise, scheduler.initNoiseSigma);
    try {
      for (let i = 0; i < timesteps.length; i++) {
        const t = timesteps[i];
        const next = await tidy(async () => {
          const output = await model(scheduler.scaleModelInput(x, t), t);
          return scheduler.step(output, t, x, stepOptions);
        });
        x.dispose();
        x = next;
        await options.onStep?.(i, t, x);
        await yieldToEventLoop();
      }
    } catch (error) {
      x.dispose();
      scheduler.reset();
      throw error;
    }
    return x;
  });
}

/** One turn of the event loop: setImmediate in Node (Dawn processes completions there), a zero timeout in a page. */
const yieldToEventLoop = (): Promise<void> => new Promise<void>((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
