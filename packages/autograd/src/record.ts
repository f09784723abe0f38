// Recorded steps: run a step once, replay its GPU commands many times without its JavaScript (the
// WebGPU counterpart of CUDA Graphs; the runtime side is @sd/kernels' runtime/recording.ts).
//
//   trainStep(batch);                              // once eagerly: creates the optimizer state
//   const step = record(() => trainStep(batch));   // runs the step once more, noting its commands
//   for (…) { batch.write(next()); const loss = step.run(); }
//
// A replay issues exactly the recorded kernels on the recorded buffers. What may change between
// runs: the contents of the tensors the step reads (write them in place with `Tensor.write`), and
// host state that code inside the step advances in `rt().perRun` callbacks (AdamW's step count and
// learning rate, the EMA's decay). What may not: anything else the step's JavaScript decides (shapes,
// which parameters have gradients, constants it uploads, values read back). `verify()` runs the step
// eagerly and compares what it issues with the recording, naming the first difference.
import * as K from '@sd/kernels';
import { Tensor } from './tensor.ts';
import { collect, keep, tidy, type Disposable } from './scope.ts';

export interface RecordedStep<R> {
  /** Replays the step; returns the step's results (the same tensors each time, with new contents). */
  run(): R;
  /**
   * Runs the step eagerly (its JavaScript too) and throws if it issued anything other than the
   * recording (other kernels, buffers, parameters or uploaded constants). Returns that run's own
   * results, which the caller disposes.
   */
  verify(): R;
  /** The results of the last run, owned by the recording (do not dispose them). */
  readonly results: R;
  /** Kernel dispatches per replay. */
  readonly dispatches: number;
  /** What a replay issues: commands by kind, dispatches by kernel. */
  summary(): K.RecordingSummary;
  /** The kernel of each dispatch a replay issues, in order. */
  kernelNames(): string[];
  /** Frees the recording: its intermediates return to the pool and its results are disposed. */
  dispose(): void;
}

/**
 * Records `step` as it runs once (for real: its effects happen). Run it once eagerly first, so that
 * state it creates on first use (optimizer moments, cached tables) exists: state allocated inside a
 * recording is refused. A host read inside the step is refused too.
 */
export function record<R>(step: () => R): RecordedStep<R> {
  const rt = K.rt();
  const results = underCapture(rt, step);
  const tensors = tensorsIn(results);
  for (const t of tensors) keep(t);
  let recording: ReturnType<K.Runtime['endCapture']>;
  try {
    recording = rt.endCapture(tensors.map((t) => t.data.buffer));
  } catch (e) {
    for (const t of tensors) t.dispose();
    throw e;
  }
  return {
    run() {
      rt.replay(recording);
      return results;
    },
    verify() {
      const fresh = underCapture(rt, step);
      const difference = K.firstDifference(recording.signature, rt.endSignature());
      if (difference) {
        for (const t of tensorsIn(fresh)) t.dispose();
        throw new Error(`record: the step no longer issues what was recorded (${difference}); record it again`);
      }
      return fresh;
    },
    get results() {
      return results;
    },
    get dispatches() {
      return recording.dispatches;
    },
    summary: () => recording.summary(),
    kernelNames: () => recording.kernelNames(),
    dispose() {
      rt.disposeRecording(recording);
      for (const t of tensors) t.dispose();
    },
  };
}

/** Runs the step in a scope while the runtime notes its commands; a throw or an async step ends the capture. */
function underCapture<R>(rt: K.Runtime, step: () => R): R {
  rt.beginCapture();
  let results: R;
  try {
    results = tidy(step);
  } catch (e) {
    rt.abandonCapture();
    throw e;
  }
  if (results instanceof Promise) {
    rt.abandonCapture();
    throw new Error('record: the step must be synchronous (a replay cannot await anything)');
  }
  return results;
}

/** The tensors in a step's result, found as `tidy` finds what to keep. */
function tensorsIn(value: unknown): Tensor[] {
  const found = new Set<Disposable>();
  collect(value, found);
  return [...found].filter((d): d is Tensor => d instanceof Tensor);
}
