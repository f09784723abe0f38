// Public API of @sd/models.
export * from './clip/tokenizer.ts';
