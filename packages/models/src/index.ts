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
export * from './data/index.ts';
export * from './prior/index.ts';
export { type ContrastiveModel } from './clip/contrastive.ts';
export { clipLoss, l2normalize, MAX_LOGIT_SCALE } from './clip/loss.ts';
export { trainClip, clipBatch, type ClipTrainSettings, type ClipStepReport } from './clip/train.ts';
export { evaluateClip, embedTexts, embedImages, retrievalRecall, type ClipEvaluation } from './clip/evaluate.ts';
export { preprocessBatch } from './clip/preprocess-batch.ts';
export { DEFAULT_CLIP_CONFIG, DEFAULT_DATA_SEED, assetsDir, defaultClipPath, exportClip, loadExportedClip, loadDefaultClip } from './clip/default.ts';
export { encodeToRetrievalLayout, l2NormalizeRows, type EncodeItem } from './clip/encode.ts';
