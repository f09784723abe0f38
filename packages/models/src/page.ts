// @sd/models in a web page (`import … from '@sd/models/page'`): the models, the CLIP tokenizer,
// text → image generation, and loading the committed parts over a FileLoader (fetchLoader from
// @sd/io). The package index also holds the trainers, datasets and evaluations, which work on files
// and stay Node's; nothing reachable from here imports a Node module (test/browser checks the bundle).
export * from './clip/tokenizer.ts';
export * from './clip/config.ts';
export * from './clip/model.ts';
export { clipFromStateDict, disposeModule } from './clip/weights.ts';
export { embedTexts } from './clip/evaluate.ts';
export { DEFAULT_CLIP_CONFIG, exportedClipWeights, isExportedClip, loadExportedClipFrom } from './clip/default.ts';
export { UNet2DConditionModel, UNet2DConditionModelEmb, unetFromConfig } from './unet/model.ts';
export { AutoencoderKL } from './vae/model.ts';
export { ClipPrior, type PriorConfig } from './prior/network.ts';
export { buildPrior, loadPriorFrom, type PriorBundle } from './prior/train.ts';
export { generateEmbeddings } from './prior/generate.ts';
export { asDecoderUnet, decodeEmbeddings, decoderSampler, loadDecoderSchedulerConfig, DECODER_SAMPLERS, type DecodeOptions, type DecoderSampler } from './decoder/sample.ts';
export { TextToImagePipeline, type TextToImageParts, type TextToImageSources, type TextToImageOptions, type GeneratedImages } from './pipeline/text-to-image.ts';
export { loadPretrainedFrom, type PretrainedOptions } from './io/pretrained.ts';
