// Zero-shot evaluation helpers: class lists, prompts and ground truth for each attribute.
//
// Every caption names colour and shape, so a prompt that names only one attribute ("a photo of a
// red object") would be off the training distribution. Instead each class gets an ensemble of
// prompts in the canonical caption form, one per value of the attributes the class does not fix
// (evaluateClip scores a class from its ensemble; see ZeroShotRule). The canonical words are the
// first synonyms in captions.ts, and these exact forms are caption templates.

import { COLOUR_WORDS, POSITION_PHRASES, SHAPE_WORDS, SIZE_WORDS, withArticle } from './captions.ts';
import type { SampleAttributes } from './dataset.ts';
import { COLOUR_NAMES, POSITIONS, SHAPES, SIZES, type ColourName, type ShapeName } from './vocabulary.ts';

export const ZERO_SHOT_ATTRIBUTES = ['colour', 'shape', 'position', 'size'] as const;
export type ZeroShotAttribute = (typeof ZERO_SHOT_ATTRIBUTES)[number];

export interface ZeroShotTask {
  attribute: ZeroShotAttribute;
  /** Class names, in the order of ground-truth indices. */
  classes: readonly string[];
  /** The prompt form: `{}` is the class; `{colour}`/`{shape}` are enumerated for the ensemble. */
  template: string;
  /** prompts[c]: the ensemble for class c (the template filled for every colour and/or shape). */
  prompts: string[][];
}

const colourWord = (c: ColourName) => COLOUR_WORDS[c][0];
const shapeWord = (s: ShapeName) => SHAPE_WORDS[s][0];

/** Every (colour, shape) combination, for ensembling over the attributes a class leaves free. */
const COLOUR_SHAPE = COLOUR_NAMES.flatMap((colour) => SHAPES.map((shape) => ({ colour, shape })));

export function zeroShotTask(attribute: ZeroShotAttribute): ZeroShotTask {
  switch (attribute) {
    case 'colour':
      return {
        attribute, classes: COLOUR_NAMES, template: 'a photo of a {} {shape}',
        prompts: COLOUR_NAMES.map((c) => SHAPES.map((s) => `a photo of ${withArticle(`${colourWord(c)} ${shapeWord(s)}`)}`)),
      };
    case 'shape':
      return {
        attribute, classes: SHAPES, template: 'a photo of a {colour} {}',
        prompts: SHAPES.map((s) => COLOUR_NAMES.map((c) => `a photo of ${withArticle(`${colourWord(c)} ${shapeWord(s)}`)}`)),
      };
    case 'size':
      return {
        attribute, classes: SIZES, template: 'a photo of a {} {colour} {shape}',
        prompts: SIZES.map((z) => COLOUR_SHAPE.map((o) => `a photo of ${withArticle(`${SIZE_WORDS[z][0]} ${colourWord(o.colour)} ${shapeWord(o.shape)}`)}`)),
      };
    case 'position':
      return {
        attribute, classes: POSITIONS, template: 'a photo of a {colour} {shape} {}',
        prompts: POSITIONS.map((p) => COLOUR_SHAPE.map((o) => `a photo of ${withArticle(`${colourWord(o.colour)} ${shapeWord(o.shape)}`)} ${POSITION_PHRASES[p][0]}`)),
      };
    default:
      throw new Error(`zeroShotTask: unknown attribute ${String(attribute)}; expected one of ${ZERO_SHOT_ATTRIBUTES.join(', ')}`);
  }
}

/**
 * Index (into zeroShotTask(attribute).classes) of a single-object sample's true class. Two-object
 * samples have no single answer and throw: evaluate on objectCount: 1 datasets.
 */
export function groundTruthClass(attribute: ZeroShotAttribute, attributes: SampleAttributes): number {
  if (attributes.objects.length !== 1) {
    throw new Error(`groundTruthClass: needs a single-object sample, got ${attributes.objects.length} objects (generate with objectCount: 1)`);
  }
  const o = attributes.objects[0];
  switch (attribute) {
    case 'colour': return COLOUR_NAMES.indexOf(o.colour);
    case 'shape': return SHAPES.indexOf(o.shape);
    case 'size': return SIZES.indexOf(o.size);
    case 'position': return POSITIONS.indexOf(o.position);
    default: throw new Error(`groundTruthClass: unknown attribute ${String(attribute)}`);
  }
}
