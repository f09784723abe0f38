// Public API of @sd/models.
export * from './clip/tokenizer.ts';
export * from './clip/config.ts';
export { ClipMlp, ResidualAttentionBlock, ClipTransformer } from './clip/transformer.ts';
export * from './clip/text.ts';
export * from './clip/vit.ts';
export * from './clip/resnet.ts';
export * from './clip/model.ts';
export * from './clip/weights.ts';
export * from './clip/preprocess.ts';
export { upsamplePatchKernel, resizeVitInput } from './clip/patch-resize.ts';
export * from './data/index.ts';
export * from './prior/index.ts';
export * from './diffusion/index.ts';
export { type ContrastiveModel } from './clip/contrastive.ts';
export { clipLoss, l2normalize, MAX_LOGIT_SCALE } from './clip/loss.ts';
export { trainClip, clipBatch, type ClipTrainSettings, type ClipTrainOptions, type ClipStepReport } from './clip/train.ts';
export { evaluateClip, embedTexts, embedImages, zeroShotAccuracyOn, type ClipEvaluation, type Accuracy } from './clip/evaluate.ts';
export { retrievalRecall, sampleScores, scoreEmbeddings, summarizeScores, type PriorMetrics, type SampleScores } from './eval/retrieval.ts';
export { compareSeededArms, seedSpread, COMPARED_METRICS, type ComparedMetric, type MetricComparison } from './eval/seeded-comparison.ts';
export { rowsAt } from './math/rows.ts';
export { bootstrapInterval, meanStd, quantile, verdict, type BootstrapOptions, type Interval } from './eval/bootstrap.ts';
export { classifyZeroShot, type ZeroShotRule } from './eval/zero-shot.ts';
export { fitRidgeMap, scoreArm, solveSymmetric, type ArmMetrics } from './eval/embedding-arms.ts';
export { frechetDistance, frechetDistanceGram, frechetDistanceOfRows, kernelInceptionDistance, meanAndCovariance, mmd2Unbiased, precisionRecall, symmetricEigen } from './eval/distribution.ts';
export { captionRenders, compareDiversity, groupSpread, summarizeDiversity, type DiversitySummary } from './eval/diversity.ts';
export {
  splitScenes, subsetScenes, captionLabels, evalReference, evaluateImageArm, compareImageArms,
  type EvalScenes, type EvalReference, type ImageArm, type ImageArmMetrics, type ImageArmParts, type PerCaption, type DecodeSettings, type ImageComparison, type ImageComparisonKey,
} from './eval/image-arms.ts';
export { preprocessBatch } from './clip/preprocess-batch.ts';
export { DEFAULT_CLIP_CONFIG, DEFAULT_DATA_SEED, assetsDir, defaultClipPath, exportClip, exportedClipWeights, isExportedClip, loadExportedClip, loadExportedClipFrom, loadExportedClipsFrom, loadDefaultClip, openClip, openClips } from './clip/default.ts';
export { encodeToRetrievalLayout, type EncodeItem } from './clip/encode.ts';
export * from './clip/embedding-space.ts';
export { normalizeBlocksInPlace, normalizeRowsInPlace, unitRows, rowDot } from './math/rows.ts';
export * from './io/diffusers.ts';
export * from './io/pretrained.ts';
export * from './unet/index.ts';
export * from './vae/index.ts';
export * from './decoder/index.ts';
export { assertFreshRunDir } from './training/run-dir.ts';
export { drawPlot, renderLossCurve, renderPlot, writeLossPlot, type PlotOptions, type Series } from './training/plot.ts';
export { stepRng, purposeGenerator, stepOffset } from './training/rng.ts';
export { runCheckpointedSteps, type CheckpointedSteps } from './training/loop.ts';
export { GENERATION_STAGES, TextToImagePipeline, type GenerationProgress, type TextToImageParts, type TextToImageSources, type TextToImageOptions, type GeneratedImages } from './pipeline/text-to-image.ts';
export * from './judge/index.ts';
export { defaultVaeDir, defaultDecoderDir, defaultPriorPath } from './pipeline/defaults.ts';
