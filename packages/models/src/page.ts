// @sd/models in a web page (`import … from '@sd/models/page'`): the models with their building
// blocks and configurations (which `pnpm bench --browser` builds too), the prior's diffusion and its
// training steps (PriorTraining, without a run directory), the CLIP tokenizer, text → image
// generation, and loading the committed parts over a FileLoader (fetchLoader from @sd/io). The
// package index also holds the run-directory trainers, datasets and evaluations, which work on files
// and stay Node's; nothing reachable from here imports a Node module (test/browser checks the bundle).
export * from './clip/tokenizer.ts';
export * from './clip/config.ts';
export * from './clip/model.ts';
export { VisionTransformer } from './clip/vit.ts';
export { ModifiedResNet } from './clip/resnet.ts';
export { clipFromStateDict, disposeModule } from './clip/weights.ts';
export { embedTexts } from './clip/evaluate.ts';
export * from './clip/embedding-space.ts';
export { DEFAULT_CLIP_CONFIG, exportedClipWeights, isExportedClip, loadExportedClipFrom, loadExportedClipsFrom } from './clip/default.ts';
export { UNet2DConditionModel, UNet2DConditionModelEmb, unetFromConfig } from './unet/model.ts';
export { SD2_BASE_UNET_CONFIG, TINY_DECODER_UNET_CONFIG } from './unet/config.ts';
export { ResnetBlock2D } from './unet/resnet.ts';
export { Transformer2DModel } from './unet/transformer.ts';
export { AutoencoderKL } from './vae/model.ts';
export { ClipPrior, PRIOR_CONFIGS, type PriorConfig } from './prior/network.ts';
export { ShiftedDiffusion } from './prior/diffusion.ts';
export { identityStats } from './prior/shift.ts';
export { buildPrior, disposePrior, loadPriorFrom, PriorTraining, priorRunConfig, shiftStatsFor, withSteps, type PriorBundle, type RunConfig, type TrainSettings } from './prior/train.ts';
export { loadEmbeddingPairsFrom, type EmbeddingPairs } from './prior/data.ts';
export { generateEmbeddings } from './prior/generate.ts';
export { asDecoderUnet, decodeEmbeddings, decoderSampler, loadDecoderSchedulerConfig, DECODER_SAMPLERS, type DecodeOptions, type DecoderSampler } from './decoder/sample.ts';
export { GENERATION_STAGES, TextToImagePipeline, type GenerationProgress, type TextToImageParts, type TextToImageSources, type TextToImageOptions, type GeneratedImages } from './pipeline/text-to-image.ts';
export { loadPretrainedFrom, type PretrainedOptions } from './io/pretrained.ts';
export { drawPlot, type PlotOptions, type Series } from './training/plot.ts';
