// Public API of @sd/models.
export * from './clip/tokenizer.ts';
export * from './clip/preprocess.ts';
export * from './data/index.ts';
export * from './prior/index.ts';
