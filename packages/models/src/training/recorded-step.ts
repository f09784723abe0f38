// Training steps replayed from a recording (@sd/autograd's `record`): after one eager step, which
// creates the optimizer state, the trainer's step is recorded and then replayed, so a step costs
// the GPU work and its host callbacks, not the JavaScript that builds the graph. A step written for
// this reads its per-step inputs (batch rows, timesteps, dropped conditions) from tensors that a
// `perRun` callback refills from the host step counter, and draws its noise from a generator that
// the callback moves to the step's range; the results are the same bits as eager steps (tested).
import { record, tensor, tidy, type RecordedStep, type Tensor } from '@sd/autograd';
import { rt, type DType } from '@sd/kernels';

export interface StepParts {
  /**
   * Uploads step `step`'s inputs (batch rows, timesteps, dropped conditions, noise positions) into
   * the tensors the step reads. Runs in a perRun callback: again at every replay, with that
   * replay's step. It may upload, not allocate.
   */
  inputs: (step: number) => void;
  /** One optimizer step on those inputs; returns its detached loss. */
  compute: () => Tensor;
  /** False: every step runs eagerly (the same results; for debugging and comparison). */
  enabled?: boolean;
}

export class RecordedSteps {
  private recorded: RecordedStep<Tensor> | null = null;
  private ranEagerly = false;
  /** The step being run, which the inputs callback reads (also at replays). */
  private current = 0;
  private readonly step: () => Tensor;
  private readonly enabled: boolean;

  constructor(parts: StepParts) {
    this.enabled = parts.enabled ?? true;
    this.step = () =>
      tidy(() => {
        rt().perRun(() => parts.inputs(this.current));
        return parts.compute();
      });
  }

  /** Runs step `step`; returns a loss tensor the caller may read and dispose. */
  run(step: number): Tensor {
    this.current = step;
    if (this.recorded) return this.recorded.run().detach();
    if (this.enabled && this.ranEagerly) {
      this.recorded = record(this.step);
      return this.recorded.results.detach();
    }
    this.ranEagerly = true;
    return this.step();
  }

  /** Frees the recording (before the parameters are replaced, e.g. by the EMA weights). */
  dispose(): void {
    this.recorded?.dispose();
    this.recorded = null;
  }
}

/**
 * A device tensor that a step's `perRun` callback refills at every step (an input of a recorded
 * step). Kept: the caller disposes it after the last step.
 */
export class StepInput {
  readonly tensor: Tensor;
  private readonly buffer: GPUBuffer;

  constructor(shape: number[], dtype: DType) {
    this.tensor = tensor(dtype === 'f32' ? new Float32Array(shape.reduce((a, b) => a * b, 1)) : new Int32Array(shape.reduce((a, b) => a * b, 1)), shape, { dtype }).keep();
    this.buffer = this.tensor.data.buffer;
  }

  /** Uploads this step's values (call inside the step's perRun callback). */
  write(values: Float32Array | Int32Array): void {
    if (values.length !== this.tensor.size) throw new Error(`StepInput: ${values.length} values for ${this.tensor}`);
    rt().upload(this.buffer, values);
  }

  dispose(): void {
    this.tensor.dispose();
  }
}
