// Caption templates and attribute synonyms: one image gets many valid captions.
//
// Every caption names the colour and the shape of every object; size, position and background
// appear in some templates only. The first synonym of each list is the canonical word (used by the
// zero-shot prompts) and is picked half of the time, so the canonical phrasing is well represented.

import { pick, shuffled, type Rng } from './prng.ts';
import type { BackgroundName, ColourName, PositionName, ShapeName, SizeName } from './vocabulary.ts';

export const COLOUR_WORDS: Record<ColourName, readonly string[]> = {
  red: ['red', 'crimson', 'scarlet'],
  orange: ['orange', 'tangerine'],
  yellow: ['yellow', 'lemon', 'golden'],
  green: ['green', 'emerald'],
  cyan: ['cyan', 'turquoise', 'aqua'],
  blue: ['blue', 'cobalt', 'royal blue'],
  purple: ['purple', 'violet'],
  pink: ['pink', 'bubblegum pink'],
  white: ['white', 'snow white', 'ivory'],
  black: ['black', 'jet black', 'ebony'],
};

export const SHAPE_WORDS: Record<ShapeName, readonly string[]> = {
  circle: ['circle', 'disc', 'disk'],
  square: ['square', 'box'],
  triangle: ['triangle'],
  star: ['star', 'five-pointed star'],
  ring: ['ring', 'donut', 'hoop'],
  cross: ['cross', 'plus sign'],
  diamond: ['diamond', 'rhombus', 'lozenge'],
  heart: ['heart', 'love heart'],
};

export const SIZE_WORDS: Record<SizeName, readonly string[]> = {
  small: ['small', 'tiny', 'little'],
  large: ['large', 'big', 'huge'],
};

/** Prepositional phrases ("a red star <phrase>"). */
export const POSITION_PHRASES: Record<PositionName, readonly string[]> = {
  'top left': ['in the top left corner', 'at the top left', 'in the upper left'],
  top: ['at the top', 'near the top edge', 'along the top'],
  'top right': ['in the top right corner', 'at the top right', 'in the upper right'],
  left: ['on the left', 'on the left side', 'at the left edge'],
  centre: ['in the centre', 'in the center', 'in the middle'],
  right: ['on the right', 'on the right side', 'at the right edge'],
  'bottom left': ['in the bottom left corner', 'at the bottom left', 'in the lower left'],
  bottom: ['at the bottom', 'near the bottom edge', 'along the bottom'],
  'bottom right': ['in the bottom right corner', 'at the bottom right', 'in the lower right'],
};

/** Short labels ("top-left: a red star"). */
export const POSITION_LABELS: Record<PositionName, readonly string[]> = {
  'top left': ['top-left', 'upper left'],
  top: ['top', 'top edge'],
  'top right': ['top-right', 'upper right'],
  left: ['left', 'left side'],
  centre: ['centre', 'center', 'middle'],
  right: ['right', 'right side'],
  'bottom left': ['bottom-left', 'lower left'],
  bottom: ['bottom', 'bottom edge'],
  'bottom right': ['bottom-right', 'lower right'],
};

export const BACKGROUND_WORDS: Record<BackgroundName, readonly string[]> = {
  gray: ['gray', 'grey'],
  'light gray': ['light gray', 'light grey', 'pale gray'],
  'dark gray': ['dark gray', 'dark grey', 'charcoal'],
  beige: ['beige', 'cream'],
  navy: ['navy', 'navy-coloured'],
  brown: ['brown', 'chocolate'],
};

export interface CaptionObject {
  shape: ShapeName;
  colour: ColourName;
  size: SizeName;
  position: PositionName;
}

/** "a" or "an" before a phrase. */
export function withArticle(phrase: string): string {
  return (/^[aeiou]/i.test(phrase) ? 'an ' : 'a ') + phrase;
}

/** Canonical word half of the time, otherwise any synonym. */
function word(rng: Rng, synonyms: readonly string[]): string {
  return rng() < 0.5 ? synonyms[0] : pick(rng, synonyms);
}

/** Fresh synonym picks for one object, made per template so captions differ in wording too. */
function describe(rng: Rng, o: CaptionObject) {
  const colour = word(rng, COLOUR_WORDS[o.colour]);
  const shape = word(rng, SHAPE_WORDS[o.shape]);
  const size = word(rng, SIZE_WORDS[o.size]);
  return {
    colour, shape, size,
    pos: word(rng, POSITION_PHRASES[o.position]),
    label: word(rng, POSITION_LABELS[o.position]),
    /** "a red star" */
    plain: withArticle(`${colour} ${shape}`),
    /** "a small red star" */
    full: withArticle(`${size} ${colour} ${shape}`),
  };
}

type Words = ReturnType<typeof describe>;
type Template1 = (o: Words, bg: string) => string;
type Template2 = (a: Words, b: Words, bg: string) => string;

/** What a single-object template names besides colour and shape (which every caption names). */
type Mention = 'size' | 'position';

const SINGLE_TEMPLATES: readonly { mentions: readonly Mention[]; text: Template1 }[] = [
  { mentions: ['size', 'position'], text: (o, bg) => `a photo of ${o.full} ${o.pos} on ${withArticle(bg)} background` },
  { mentions: ['size', 'position'], text: (o) => `${o.full} ${o.pos}` },
  { mentions: ['size', 'position'], text: (o, bg) => `${o.label}: ${o.size} ${o.colour} ${o.shape}, ${bg} backdrop` },
  { mentions: [], text: (o) => `a photo of ${o.plain}` },
  { mentions: ['size'], text: (o) => `a photo of ${o.full}` },
  { mentions: ['position'], text: (o) => `a photo of ${o.plain} ${o.pos}` },
  { mentions: ['size', 'position'], text: (o) => `${withArticle(`${o.size} ${o.shape}`)}, ${o.colour}, ${o.pos}` },
  { mentions: ['size', 'position'], text: (o, bg) => `there is ${o.full} ${o.pos} against ${withArticle(bg)} backdrop` },
  { mentions: [], text: (o, bg) => `${o.plain} on ${bg}` },
  { mentions: ['size'], text: (o, bg) => `a rendering of ${o.full} on a plain ${bg} background` },
  { mentions: ['size', 'position'], text: (o, bg) => `${bg} background with ${o.full} ${o.pos}` },
  { mentions: [], text: (o) => `${o.plain}` },
];

const PAIR_TEMPLATES: readonly Template2[] = [
  (a, b) => `a photo of ${a.plain} and ${b.plain}`,
  (a, b, bg) => `${a.full} ${a.pos} and ${b.full} ${b.pos} on ${withArticle(bg)} background`,
  (a, b) => `two shapes: ${a.plain} ${a.pos}, ${b.plain} ${b.pos}`,
  (a, b, bg) => `${a.label}: ${a.colour} ${a.shape}; ${b.label}: ${b.colour} ${b.shape}; ${bg} backdrop`,
  (a, b) => `a photo of ${a.full} ${a.pos} and ${b.full} ${b.pos}`,
  (a, b, bg) => `a photo of two objects, ${a.plain} and ${b.plain}, on ${bg}`,
];

/**
 * All captions for a scene: one per template (fresh synonyms each), duplicates removed, in an
 * order shuffled by `rng` so `captions[0]` is a fair random pick.
 */
export function makeCaptions(rng: Rng, objects: readonly CaptionObject[], background: BackgroundName): string[] {
  const bgWord = () => word(rng, BACKGROUND_WORDS[background]);
  let captions: string[];
  if (objects.length === 1) {
    captions = SINGLE_TEMPLATES.map((t) => t.text(describe(rng, objects[0]), bgWord()));
  } else if (objects.length === 2) {
    captions = PAIR_TEMPLATES.map((t) => t(describe(rng, objects[0]), describe(rng, objects[1]), bgWord()));
  } else {
    throw new Error(`makeCaptions: expected 1 or 2 objects, got ${objects.length}`);
  }
  return shuffled(rng, [...new Set(captions)]);
}

/**
 * Captions of a single-object scene that name `attribute` (colour and shape: every caption; size
 * or position: the templates that name it), for batches whose images differ only in that attribute.
 */
export function captionsNaming(rng: Rng, object: CaptionObject, background: BackgroundName, attribute: 'colour' | 'shape' | Mention): string[] {
  const templates = SINGLE_TEMPLATES.filter((t) => attribute === 'colour' || attribute === 'shape' || t.mentions.includes(attribute));
  const captions = templates.map((t) => t.text(describe(rng, object), word(rng, BACKGROUND_WORDS[background])));
  return shuffled(rng, [...new Set(captions)]);
}

/** Which optional attributes a caption names (every caption names colour and shape). */
export interface CaptionMentions {
  size: boolean;
  position: boolean;
  background: boolean;
}

const escape = (w: string) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const anyOf = (lists: Record<string, readonly string[]>) => new RegExp(`(^|[^a-z-])(${Object.values(lists).flat().sort((a, b) => b.length - a.length).map(escape).join('|')})(?![a-z-])`, 'i');
const SIZE_PATTERN = anyOf(SIZE_WORDS);
const POSITION_PATTERN = anyOf({ ...Object.fromEntries(Object.entries(POSITION_PHRASES).map(([k, v]) => [`p ${k}`, v])), ...Object.fromEntries(Object.entries(POSITION_LABELS).map(([k, v]) => [`l ${k}`, v])) });
const BACKGROUND_PATTERN = anyOf(BACKGROUND_WORDS);

/**
 * The optional attributes a caption of this dataset names, read from its words (the vocabulary's
 * synonyms, whole words): a caption naming none of them under-specifies the scene (its size,
 * position and background are free), one naming all three pins it down.
 */
export function captionMentions(text: string): CaptionMentions {
  return { size: SIZE_PATTERN.test(text), position: POSITION_PATTERN.test(text), background: BACKGROUND_PATTERN.test(text) };
}
