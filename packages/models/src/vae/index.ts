export { AutoencoderKL, DiagonalGaussian, VaeEncoder, VaeDecoder, VaeAttentionBlock, vaeStateDictNames } from './model.ts';
export { readVaeConfig, VAE_SCHEMA, SD2_BASE_VAE_CONFIG, PROCEDURAL_VAE_CONFIG, type VaeConfig } from './config.ts';
export { proceduralImages, imageFolderImages, subsetImages, fingerprintImages, imageBatch, imageCropBatch, imageBytes, imageAt, imageGrid, type ImageSet, type ProceduralImageOptions } from './images.ts';
export { psnr, evaluateReconstruction, reconstructImages, measureScalingFactor, type ReconstructionMetrics, type ScalingMeasurement } from './evaluate.ts';
export { trainVae, vaeLoss, vaeBatchRows, vaeCropOffsets, vaeCropSteps, vaeSchedule, buildVae, VAE_SCHEDULES, VAE_FINAL_DIR, type VaeTrainSettings, type VaeSchedule, type VaeRunConfig, type VaeTrainOptions, type VaeTrainResult } from './train.ts';
export { reconstructionZeroShot, type ReconstructionZeroShot } from './zero-shot.ts';
