export { AutoencoderKL, DiagonalGaussian, VaeEncoder, VaeDecoder, VaeAttentionBlock, vaeStateDictNames } from './model.ts';
export { readVaeConfig, VAE_SCHEMA, SD2_BASE_VAE_CONFIG, type VaeConfig } from './config.ts';
