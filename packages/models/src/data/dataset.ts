// The deterministic sample generator: sample i is a pure function of (seed, i, options), so a
// dataset can be streamed, sharded, or regenerated anywhere without storing it.

import { makeCaptions, type CaptionMentions } from './captions.ts';
import { hashSeed, mulberry32, pick, uniformIn, type Rng } from './prng.ts';
import { drawShape, fillImage } from './shapes.ts';
import {
  BACKGROUNDS, COLOURS, HELD_OUT_PAIRS, POSITIONS, POSITION_JITTER, SIZES, SIZE_JITTER, SIZE_RADIUS, TRAIN_PAIRS,
  backgroundsFor, isHeldOutPair, positionCentre,
  type BackgroundName, type ColourName, type PositionName, type ShapeName, type SizeName,
} from './vocabulary.ts';

export type Split = 'train' | 'heldout';
export type Resolution = 64 | 32;

export interface SceneObject {
  shape: ShapeName;
  colour: ColourName;
  size: SizeName;
  position: PositionName;
  /** Centre as fractions of the image side (x to the right, y down). */
  x: number;
  y: number;
  /** Half the shape's extent, as a fraction of the image side. */
  radius: number;
  /** Radians, clockwise on screen (small: ±MAX_ROTATION). */
  rotation: number;
}

export interface SampleAttributes {
  background: BackgroundName;
  /** One or two objects, at distinct grid positions, drawn in this order. */
  objects: SceneObject[];
}

export interface Sample {
  index: number;
  /** RGB bytes, row-major, height × width × 3. */
  image: Uint8Array;
  width: number;
  height: number;
  attributes: SampleAttributes;
  /** Several valid captions (different templates and synonyms); captions[0] is a random pick. */
  captions: string[];
}

export interface SampleOptions {
  seed: number;
  /** Image side in pixels (default 64). Does not change the scene, only how finely it is drawn. */
  resolution?: Resolution;
  /** 'train' uses only non-held-out shape–colour pairs, 'heldout' only held-out ones (default 'train'). */
  split?: Split;
  /** Objects per image: always 1, always 2, or 'mixed' (default; two objects with TWO_OBJECT_PROBABILITY). */
  objectCount?: 1 | 2 | 'mixed';
}

export const TWO_OBJECT_PROBABILITY = 0.3;
export const MAX_ROTATION = (10 * Math.PI) / 180;

// Stream tags: the scene and its captions use independent random streams, so editing caption
// templates never changes the images.
const SCENE_STREAM = 1;
const CAPTION_STREAM = 2;

function checkOptions(where: string, index: number, o: SampleOptions): void {
  if (!Number.isSafeInteger(index) || index < 0) throw new Error(`${where}: index must be a non-negative integer, got ${index}`);
  if (!Number.isSafeInteger(o.seed) || o.seed < 0) throw new Error(`${where}: seed must be a non-negative integer, got ${o.seed}`);
  if (o.resolution !== undefined && o.resolution !== 64 && o.resolution !== 32) {
    throw new Error(`${where}: resolution must be 64 or 32, got ${o.resolution}`);
  }
  if (o.split !== undefined && o.split !== 'train' && o.split !== 'heldout') {
    throw new Error(`${where}: split must be 'train' or 'heldout', got ${String(o.split)}`);
  }
  if (o.objectCount !== undefined && o.objectCount !== 1 && o.objectCount !== 2 && o.objectCount !== 'mixed') {
    throw new Error(`${where}: objectCount must be 1, 2 or 'mixed', got ${String(o.objectCount)}`);
  }
}

function streamSeed(o: SampleOptions, index: number, stream: number): number {
  const split = o.split === 'heldout' ? 1 : 0;
  const count = o.objectCount === 1 ? 1 : o.objectCount === 2 ? 2 : 0;
  return hashSeed(o.seed, index, stream, split, count);
}

/** An object at a jittered grid position; its size is drawn from `rng` unless given. */
export function placeObject(rng: Rng, shape: ShapeName, colour: ColourName, position: PositionName, fixedSize?: SizeName): SceneObject {
  const size = fixedSize ?? pick(rng, SIZES);
  const centre = positionCentre(position);
  return {
    shape, colour, size, position,
    x: centre.x + uniformIn(rng, -POSITION_JITTER, POSITION_JITTER),
    y: centre.y + uniformIn(rng, -POSITION_JITTER, POSITION_JITTER),
    radius: SIZE_RADIUS[size] * (1 + uniformIn(rng, -SIZE_JITTER, SIZE_JITTER)),
    rotation: uniformIn(rng, -MAX_ROTATION, MAX_ROTATION),
  };
}

/** Keeps two objects apart: adjacent large objects with unlucky jitter could otherwise touch. */
function separate(a: SceneObject, b: SceneObject): void {
  const margin = 1.05;
  if (Math.hypot(a.x - b.x, a.y - b.y) >= (a.radius + b.radius) * margin) return;
  for (const o of [a, b]) Object.assign(o, positionCentre(o.position));
  // Grid centres are 0.3 apart; capping both radii at 0.3 / 2.1 stays inside the 'large' range.
  const cap = Math.hypot(a.x - b.x, a.y - b.y) / (2 * margin);
  a.radius = Math.min(a.radius, cap);
  b.radius = Math.min(b.radius, cap);
}

/** The scene (attributes only, no pixels) of sample `index`. */
export function sampleAttributes(index: number, options: SampleOptions): SampleAttributes {
  checkOptions('sampleAttributes', index, options);
  const rng = mulberry32(streamSeed(options, index, SCENE_STREAM));
  const split = options.split ?? 'train';
  const objectCount = options.objectCount ?? 'mixed';
  const count = objectCount === 'mixed' ? (rng() < TWO_OBJECT_PROBABILITY ? 2 : 1) : objectCount;
  const pairs = split === 'train' ? TRAIN_PAIRS : HELD_OUT_PAIRS;

  const first = pick(rng, pairs);
  const firstPosition = pick(rng, POSITIONS);
  const objects = [placeObject(rng, first.shape, first.colour, firstPosition)];
  if (count === 2) {
    // A different shape–colour pair that shares at least one contrasting background with the first.
    let second = pick(rng, pairs);
    while ((second.shape === first.shape && second.colour === first.colour) || backgroundsFor([first.colour, second.colour]).length === 0) {
      second = pick(rng, pairs);
    }
    const position = pick(rng, POSITIONS.filter((p) => p !== firstPosition));
    objects.push(placeObject(rng, second.shape, second.colour, position));
    separate(objects[0], objects[1]);
  }
  const background = pick(rng, backgroundsFor(objects.map((o) => o.colour)));
  return { background, objects };
}

/**
 * The same scene placed anew: every object keeps its shape, colour, size class and grid position,
 * and the background stays; the jitter, exact size and rotation are drawn again from `rng`. A second
 * real rendering of what a caption describes (the reference set of image-level FID).
 */
export function replaceScene(attributes: SampleAttributes, rng: Rng): SampleAttributes {
  const objects = attributes.objects.map((o) => placeObject(rng, o.shape, o.colour, o.position, o.size));
  if (objects.length === 2) separate(objects[0], objects[1]);
  return { background: attributes.background, objects };
}

/**
 * Another scene that a caption naming `mentions` of `attributes` describes as well: the shapes and
 * colours (always named) are kept, and size, position and background where the caption names them;
 * the rest is drawn again as sampleAttributes draws it, and every object placed anew. Renders of
 * these spread as widely as the caption allows: the real images of a caption, whose spread is the
 * reference of per-caption diversity.
 */
export function sceneForCaption(attributes: SampleAttributes, mentions: CaptionMentions, rng: Rng): SampleAttributes {
  const taken: PositionName[] = [];
  const objects = attributes.objects.map((o) => {
    const position = mentions.position ? o.position : pick(rng, POSITIONS.filter((p) => !taken.includes(p)));
    taken.push(position);
    return placeObject(rng, o.shape, o.colour, position, mentions.size ? o.size : undefined);
  });
  if (objects.length === 2) separate(objects[0], objects[1]);
  const background = mentions.background ? attributes.background : pick(rng, backgroundsFor(objects.map((o) => o.colour)));
  return { background, objects };
}

/** Draws a scene into a new RGB image of side `resolution`. */
export function renderScene(attributes: SampleAttributes, resolution: Resolution = 64): Uint8Array {
  const image = new Uint8Array(resolution * resolution * 3);
  fillImage(image, BACKGROUNDS[attributes.background]);
  for (const o of attributes.objects) {
    drawShape(image, resolution, resolution, o.shape, {
      cx: o.x * resolution,
      cy: o.y * resolution,
      radius: o.radius * resolution,
      rotation: o.rotation,
      colour: COLOURS[o.colour],
    });
  }
  return image;
}

/** Sample `index` of the dataset described by `options`: image, attributes and captions. */
export function generateSample(index: number, options: SampleOptions): Sample {
  const attributes = sampleAttributes(index, options);
  const resolution = options.resolution ?? 64;
  const captions = makeCaptions(mulberry32(streamSeed(options, index, CAPTION_STREAM)), attributes.objects, attributes.background);
  return { index, image: renderScene(attributes, resolution), width: resolution, height: resolution, attributes, captions };
}

/** Samples start, start+1, ..., start+count-1, lazily. */
export function* iterateSamples(options: SampleOptions, start = 0, count = Infinity): Generator<Sample> {
  for (let i = start; i < start + count; i++) yield generateSample(i, options);
}

/**
 * True when a scene contains a held-out shape–colour pair (see HELD_OUT_PAIRS). Accepts a whole
 * scene or a single object. 'train' scenes never are; every object of a 'heldout' scene is one.
 */
export function isHeldOut(attributes: SampleAttributes | { shape: ShapeName; colour: ColourName }): boolean {
  if ('objects' in attributes) return attributes.objects.some((o) => isHeldOutPair(o.shape, o.colour));
  return isHeldOutPair(attributes.shape, attributes.colour);
}
