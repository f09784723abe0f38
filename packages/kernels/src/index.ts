// @sd/kernels: the WebGPU runtime and the hand-written WGSL kernels.
export { initRuntime, rt } from './runtime/current.ts';
export { Runtime, type Dispatch } from './runtime/runtime.ts';
export { kernelSource, verifyKernelKeys } from './runtime/kernel-source.ts';
export { Recording, firstDifference, type RecordingSummary } from './runtime/recording.ts';
export { releaseCaches } from './release.ts';
export { type DeviceInfo, type AdapterKind, NO_ADAPTER_HELP } from './runtime/device.ts';
export {
  adapterProfile,
  profile,
  runnableVariants,
  withTuning,
  type AdapterProfile,
  type AttentionVariant,
  type Conv2dVariant,
  type MatmulVariant,
  type Tuning,
} from './runtime/profile.ts';
export { DeviceArray, type DType, type HostArray } from './array.ts';
export * from './shape.ts';
export { Params, grid, gridMain, linearIndex, bindings, stridedOffsets, WG } from './wgsl.ts';
export { mapElementwise, type Operand } from './ops/elementwise.ts';
export { unary, unaryBackward, UNARY, ACTIVATIONS, type UnaryOp, type Activation } from './ops/unary.ts';
export { binary, where, BINARY, type BinaryOp } from './ops/binary.ts';
export { stridedCopy, type CopyPlan, type CopySide } from './ops/strided-copy.ts';
export { permute, transpose, slice, concat, split, pad, padBackward, expand, upsampleNearest2x, upsampleNearest2xBackward, cast } from './ops/copy.ts';
export { gather, scatterAdd } from './ops/gather.ts';
export { adamw, sgd, sumOfSquares, gradClipScale, type AdamWOptions, type SgdOptions, type GradScale } from './ops/adamw.ts';
export { SegmentedTensors, gatherSegments, scatterSegments, type Segment, type AdamWSegmentsOptions } from './ops/multi-tensor.ts';
export { randomUniform, randomNormal, dropoutMask, randomUniformAt, randomNormalAt, dropoutMaskAt, randomPosition, randomPositionArray, philox4x32, randomBitsHost, randomUniformHost, randomNormalHost } from './ops/random.ts';
export { sum, mean, max, min, argmax, sumTo, type Axes } from './ops/reduce.ts';
export { conv2d, conv2dBackwardInput, conv2dBackwardWeight, conv2dBackwardBias, releaseConv2dScratch, GEMM_LARGE, GEMM_SMALL, type GemmConfig, type Conv2dOptions } from './ops/conv2d.ts';
export { softmax, logSoftmax, softmaxBackward, logSoftmaxBackward } from './ops/softmax.ts';
export { crossEntropy, crossEntropyBackward, validateTargets, type CrossEntropyOptions, type CrossEntropyResult, type CrossEntropySaved, type Reduction } from './ops/crossEntropy.ts';
export { layerNorm, layerNormBackward, rmsNorm, rmsNormBackward, type LayerNormResult, type RmsNormResult, type NormGrads } from './ops/norm.ts';
export { matmul, type MatmulOptions } from './ops/matmul.ts';
export { attention, attentionBackward, releaseAttentionScratch, ATTENTION_MAX_D, type AttentionOptions } from './ops/attention.ts';
export { groupNorm, groupNormBackward, type GroupNormOptions, type GroupNormResult, type GroupNormGrads } from './ops/groupnorm.ts';
