// The procedural captioned-shapes dataset: generator, splits, captions, zero-shot helpers, imagefolder I/O.
export * from './vocabulary.ts';
export { drawShape, fillImage, SHAPE_OUTLINES, type DrawShapeOptions } from './shapes.ts';
export {
  COLOUR_WORDS, SHAPE_WORDS, SIZE_WORDS, POSITION_PHRASES, POSITION_LABELS, BACKGROUND_WORDS,
  makeCaptions, captionsNaming, captionMentions, withArticle, type CaptionObject, type CaptionMentions,
} from './captions.ts';
export {
  generateSample, sampleAttributes, renderScene, replaceScene, sceneForCaption, iterateSamples, isHeldOut, TWO_OBJECT_PROBABILITY, MAX_ROTATION,
  type Sample, type SampleAttributes, type SceneObject, type SampleOptions, type Split, type Resolution,
} from './dataset.ts';
export { zeroShotTask, groundTruthClass, ZERO_SHOT_ATTRIBUTES, type ZeroShotTask, type ZeroShotAttribute } from './zero-shot.ts';
export { encodeRgbPng, decodeRgb, type RgbImage } from './image-codec.ts';
export {
  exportImageFolder, readImageFolder, METADATA_FILE,
  type ExportOptions, type ImageFolderEntry, type ReadImageFolderOptions,
} from './imagefolder.ts';
export { contrastGroup, type ContrastSample } from './contrast.ts';
