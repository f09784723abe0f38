// @sd/autograd: reverse-mode autograd over @sd/kernels, nn modules, optimizers and checkpoints.
import './methods.ts';

export { Tensor, fromOp, type Node, type BackwardFn } from './tensor.ts';
export { backward } from './backward.ts';
export { tidy, keep } from './scope.ts';
export { record, type RecordedStep } from './record.ts';
export { noGrad, isGradEnabled } from './grad-mode.ts';
export { full, zeros, ones, zerosLike, tensor, scalar, arange, fromArray, type CreateOptions } from './creation.ts';
export { Generator, manualSeed, getGenerator, withGenerator, rand, randn } from './random.ts';
export * from './ops/arithmetic.ts';
export * from './ops/unary.ts';
export * from './ops/views.ts';
export * from './ops/reduce.ts';
export * from './ops/matmul.ts';
export * from './ops/nn.ts';
export * from './ops/pool.ts';
export { memory } from './memory.ts';
export * as nn from './nn/index.ts';
export * as optim from './optim/index.ts';
// The file formats live in @sd/io; re-exported here so code that imported them from @sd/autograd keeps working.
export {
  parseSafetensorsHeader, readSafetensors, serializeSafetensors, writeSafetensors,
  type SafetensorsDtype, type SafetensorsTensor, type SafetensorsInput, type SafetensorsEntry, type SafetensorsHeader, type SafetensorsFile,
  readTorchCheckpoint, readTorchStateDict, type TorchCheckpoint, type TorchTensor, type TorchDtype,
} from '@sd/io';
export { saveCheckpoint, loadCheckpoint, checkpointGroups, type TensorGroups, type LoadedCheckpoint } from './io/checkpoint.ts';
