// @sd/kernels: the WebGPU runtime and the hand-written WGSL kernels.
export { initRuntime, rt } from './runtime/current.ts';
export { Runtime, type Dispatch } from './runtime/runtime.ts';
export { type DeviceInfo, type AdapterKind, NO_ADAPTER_HELP } from './runtime/device.ts';
export { DeviceArray, type DType, type HostArray } from './array.ts';
export * from './shape.ts';
export { Params, grid, gridMain, linearIndex, bindings, stridedOffsets, WG } from './wgsl.ts';
export { mapElementwise, type Operand } from './ops/elementwise.ts';
export { unary, unaryBackward, UNARY, type UnaryOp } from './ops/unary.ts';
export { binary, where, BINARY, type BinaryOp } from './ops/binary.ts';
export { stridedCopy, type CopyPlan, type CopySide } from './ops/strided-copy.ts';
export { permute, transpose, slice, concat, split, pad, padBackward, expand, upsampleNearest2x, upsampleNearest2xBackward, cast } from './ops/copy.ts';
export { gather, scatterAdd } from './ops/gather.ts';
export { adamw, sgd, sumOfSquares, gradClipScale, type AdamWOptions, type SgdOptions, type GradScale } from './ops/adamw.ts';
export { randomUniform, randomNormal, dropoutMask, philox4x32, randomBitsHost, randomUniformHost, randomNormalHost } from './ops/random.ts';
export { sum, mean, max, min, argmax, sumTo, type Axes } from './ops/reduce.ts';
export { kitOverrides } from './ops/reduce-kit.ts';
export { softmax, logSoftmax, softmaxBackward, logSoftmaxBackward } from './ops/softmax.ts';
export { crossEntropy, crossEntropyBackward, validateTargets, type CrossEntropyOptions, type CrossEntropyResult, type CrossEntropySaved, type Reduction } from './ops/crossEntropy.ts';
