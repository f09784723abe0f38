// Public API of @sd/models.
export * from './clip/tokenizer.ts';
export * from './data/index.ts';
