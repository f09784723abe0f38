// Contrast groups: single-object scenes that agree on everything but one attribute.
//
// In a random batch of captioned shapes, colour and background alone tell almost every pair apart,
// so a contrastive model learns little about shape, position or size. A group puts images that
// differ only in that attribute into the same batch, each with a caption that names it: the loss
// can then only be lowered by seeing the attribute. Groups use training shape–colour pairs only.

import { captionsNaming } from './captions.ts';
import { placeObject, renderScene, type Resolution, type Sample } from './dataset.ts';
import { pick, shuffled, type Rng } from './prng.ts';
import { backgroundsFor, COLOUR_NAMES, isHeldOutPair, POSITIONS, SHAPES, SIZES, TRAIN_PAIRS } from './vocabulary.ts';
import type { ZeroShotAttribute } from './zero-shot.ts';

export type ContrastSample = Omit<Sample, 'index'>;

/**
 * Up to `maxSize` scenes (fewer when the attribute has fewer admissible values: 2 sizes, 7 shapes
 * per colour, …) sharing background and all attributes but `attribute`, which takes distinct values.
 * Jitter (exact position, radius, rotation) is drawn per scene, as in the dataset.
 */
export function contrastGroup(rng: Rng, attribute: ZeroShotAttribute, maxSize: number, resolution: Resolution = 64): ContrastSample[] {
  if (!Number.isInteger(maxSize) || maxSize < 1) throw new Error(`contrastGroup: maxSize must be a positive integer, got ${maxSize}`);
  const base = { ...pick(rng, TRAIN_PAIRS), position: pick(rng, POSITIONS), size: pick(rng, SIZES) };
  const background = pick(rng, backgroundsFor([base.colour]));
  let variants: (typeof base)[];
  switch (attribute) {
    case 'shape':
      variants = SHAPES.filter((shape) => !isHeldOutPair(shape, base.colour)).map((shape) => ({ ...base, shape }));
      break;
    case 'colour':
      variants = COLOUR_NAMES.filter((colour) => !isHeldOutPair(base.shape, colour) && backgroundsFor([colour]).includes(background))
        .map((colour) => ({ ...base, colour }));
      break;
    case 'position':
      variants = POSITIONS.map((position) => ({ ...base, position }));
      break;
    case 'size':
      variants = SIZES.map((size) => ({ ...base, size }));
      break;
    default:
      throw new Error(`contrastGroup: unknown attribute ${String(attribute)}`);
  }
  return shuffled(rng, variants).slice(0, maxSize).map((v) => {
    const attributes = { background, objects: [placeObject(rng, v.shape, v.colour, v.position, v.size)] };
    return {
      image: renderScene(attributes, resolution),
      width: resolution,
      height: resolution,
      attributes,
      captions: captionsNaming(rng, v, background, attribute),
    };
  });
}
