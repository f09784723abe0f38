// What the judge reads off a rendered scene: the exact attributes the generator drew. Every scene
// has an object count and a background; shape, colour, size and position are labelled for
// single-object scenes only (with two objects, "the" shape is ambiguous) and ignored otherwise.
import { BACKGROUND_NAMES, COLOUR_NAMES, POSITIONS, SHAPES, SIZES } from '../data/vocabulary.ts';
import type { SampleAttributes } from '../data/dataset.ts';

/** The judge's heads, in output order, with their classes. */
export const JUDGE_HEADS = {
  shape: SHAPES,
  colour: COLOUR_NAMES,
  size: SIZES,
  position: POSITIONS,
  background: BACKGROUND_NAMES,
  count: ['one object', 'two objects'],
} as const satisfies Record<string, readonly string[]>;

export type JudgeHead = keyof typeof JUDGE_HEADS;
export const HEAD_NAMES = Object.keys(JUDGE_HEADS) as JudgeHead[];
/** The target of a head that is not labelled for a scene (cross-entropy's ignore index). */
export const UNLABELLED = -100;

/** Class index per head (UNLABELLED where the scene does not define it). */
export function judgeLabels(a: SampleAttributes): Record<JudgeHead, number> {
  const single = a.objects.length === 1 ? a.objects[0] : null;
  const index = <T extends string>(list: readonly T[], v: T | undefined) => (v === undefined ? UNLABELLED : list.indexOf(v));
  return {
    shape: index(SHAPES, single?.shape),
    colour: index(COLOUR_NAMES, single?.colour),
    size: index(SIZES, single?.size),
    position: index(POSITIONS, single?.position),
    background: BACKGROUND_NAMES.indexOf(a.background),
    count: a.objects.length - 1,
  };
}
