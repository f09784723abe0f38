// The language-free decoder: a UNet2DConditionModelEmb trained on VAE latents conditioned on CLIP image embeddings.
export { PROCEDURAL_DECODER_UNET_CONFIG, DECODER_SCHEDULER_CONFIG, decoderSchedulerConfig, checkDecoderInputs } from './config.ts';
export { decoderFingerprint, moduleSha256, encodeLatents, encodeEmbeddings, assertCacheCurrent, loadOrBuildDecoderData, type DecoderClip, type DecoderData, type DecoderFingerprint } from './data.ts';
export { asDecoderUnet, decodeEmbeddings, decoderSampler, loadDecoderSchedulerConfig, DECODER_SAMPLERS, type DecodeOptions, type DecoderSampler } from './sample.ts';
export { readDecoderSchedulerConfig } from './scheduler-config.ts';
export { CLIP_SPACE_FILE, assertDecoderClipSpace, clipSpaceRecord, type ClipSpaceRecord } from './clip-space.ts';
export {
  trainDecoder, decoderLoss, decoderStepDraws, buildDecoderUnet, DECODER_FINAL_DIR, DECODER_CACHE,
  type DecoderTrainSettings, type DecoderRunConfig, type DecoderInputs, type DecoderTrainOptions, type DecoderTrainResult,
} from './train.ts';
export { decoderOracleZeroShot, oracleImages, type OracleOptions, type OracleZeroShot } from './oracle.ts';
