export { ClipPrior, PRIOR_CONFIGS, type PriorConfig, type PriorInputs } from './network.ts';
export { ShiftedDiffusion, PRIOR_LOSS_WEIGHTS, sample, guide, type Denoiser, type PriorLossWeight, type SampleOptions as PriorSampleOptions } from './diffusion.ts';
export { computeShiftStats, assignClusters, identityStats, nearestByCosine, type ShiftStats } from './shift.ts';
export { fingerprintPairs, loadEmbeddingPairs, loadEmbeddingPairsFrom, readCaptions, iterateShards, listShards, readPair, subset, type EmbeddingPairs, type Shard } from './data.ts';
export { trainPrior, PriorTraining, disposePrior, priorRunConfig, withSteps, shiftStatsFor, loadPrior, loadPriorFrom, buildPrior, SEED_OPTIMIZER, type TrainSettings, type RunConfig, type StepReport, type PriorBundle, type TrainOptions } from './train.ts';
export { generateEmbeddings, clustersFor, type GenerateOptions } from './generate.ts';
export { evaluatePrior } from './evaluate.ts';
export { ShiftedDiffusionPrior } from './library.ts';
export { loadEmbeddedPriorData, embeddedDataDir, embeddedSplitRow, EMBEDDED_SPLITS, SPLIT_SOURCE, type EmbeddedSplit } from './embedded.ts';
