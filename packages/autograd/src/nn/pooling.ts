// AvgPool2d and inference-form BatchNorm2d, with PyTorch's state_dict names.
import { full } from '../creation.ts';
import { avgPool2d, batchNormInference } from '../ops/pool.ts';
import type { Tensor } from '../tensor.ts';
import { ones, zeros } from './init.ts';
import { Layer } from './layers.ts';

/** nn.AvgPool2d(kernel) (stride = kernel, no padding). No parameters. */
export class AvgPool2d extends Layer {
  constructor(readonly kernel: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernel);
  }
}

/**
 * nn.BatchNorm2d for inference: `weight`, `bias` parameters and `running_mean`, `running_var`,
 * `num_batches_tracked` buffers (the last is kept only so PyTorch state dicts load; it is unused).
 * Always normalises with the running statistics. Batch statistics (PyTorch's training mode) are not
 * implemented, so forward refuses to run in training mode rather than silently differ: call `.eval()`.
 */
export class BatchNorm2d extends Layer {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  constructor(
    readonly channels: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = this.param('weight', ones([channels]));
    this.bias = this.param('bias', zeros([channels]));
    this.runningMean = this.buffer('running_mean', zeros([channels]));
    this.runningVar = this.buffer('running_var', ones([channels]));
    this.buffer('num_batches_tracked', full([], 0, { dtype: 'i32' }));
  }
  forward(x: Tensor): Tensor {
    if (this.training) {
      throw new Error('BatchNorm2d: training-mode batch statistics are not implemented; call .eval() to use the running statistics');
    }
    return batchNormInference(x, { runningMean: this.runningMean, runningVar: this.runningVar, weight: this.weight, bias: this.bias, eps: this.eps });
  }
}
