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
