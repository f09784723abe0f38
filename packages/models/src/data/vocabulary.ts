// The attribute vocabulary of the procedural dataset: shapes, object colours, backgrounds, sizes,
// grid positions, and the shape–colour pairs held out of training.

export const SHAPES = ['circle', 'square', 'triangle', 'star', 'ring', 'cross', 'diamond', 'heart'] as const;
export type ShapeName = (typeof SHAPES)[number];

export type Rgb = readonly [number, number, number];

/**
 * Object colours: saturated and far apart in RGB (every pair ≥ 90 apart, most ≥ 150) so that
 * colour is unambiguous even on anti-aliased 32×32 edges.
 */
export const COLOURS = {
  red: [220, 40, 40],
  orange: [250, 130, 20],
  yellow: [240, 220, 40],
  green: [40, 170, 60],
  cyan: [40, 200, 220],
  blue: [40, 80, 220],
  purple: [140, 60, 190],
  pink: [245, 130, 190],
  white: [245, 245, 245],
  black: [20, 20, 20],
} as const satisfies Record<string, Rgb>;
export type ColourName = keyof typeof COLOURS;
export const COLOUR_NAMES = Object.keys(COLOURS) as ColourName[];

/**
 * Background colours come from their own list of muted tones, so the only saturated colour in an
 * image is the object's: "a photo of a red object" then has one possible referent.
 */
export const BACKGROUNDS = {
  gray: [128, 128, 128],
  'light gray': [200, 200, 200],
  'dark gray': [55, 55, 55],
  beige: [230, 215, 170],
  navy: [25, 35, 90],
  brown: [115, 75, 45],
} as const satisfies Record<string, Rgb>;
export type BackgroundName = keyof typeof BACKGROUNDS;
export const BACKGROUND_NAMES = Object.keys(BACKGROUNDS) as BackgroundName[];

/** Minimum RGB distance between an object colour and its background (keeps every object visible). */
export const MIN_CONTRAST = 100;

export function rgbDistance(a: Rgb, b: Rgb): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

/** Backgrounds that contrast enough with every given object colour. */
export function backgroundsFor(colours: readonly ColourName[]): BackgroundName[] {
  return BACKGROUND_NAMES.filter((bg) => colours.every((c) => rgbDistance(COLOURS[c], BACKGROUNDS[bg]) >= MIN_CONTRAST));
}

export const SIZES = ['small', 'large'] as const;
export type SizeName = (typeof SIZES)[number];

/**
 * Object radius (half the extent of the shape's bounding box) as a fraction of the image side.
 * Jitter is ±6%, so the classes never overlap (0.09·1.06 < 0.14·0.94).
 */
export const SIZE_RADIUS: Record<SizeName, number> = { small: 0.09, large: 0.14 };
export const SIZE_JITTER = 0.06;

/** The 3×3 grid, row-major. */
export const POSITIONS = [
  'top left', 'top', 'top right',
  'left', 'centre', 'right',
  'bottom left', 'bottom', 'bottom right',
] as const;
export type PositionName = (typeof POSITIONS)[number];

/**
 * Cell centres as fractions of the image side. Pulled in from 1/6, 5/6 to 0.2, 0.8 so a large
 * object in a corner cell stays inside the image; jitter is at most ±0.015 so adjacent large objects
 * (0.3 apart) do not overlap.
 */
export const GRID_COORDS = [0.2, 0.5, 0.8] as const;
export const POSITION_JITTER = 0.015;

export function positionCentre(position: PositionName): { x: number; y: number } {
  const cell = POSITIONS.indexOf(position);
  return { x: GRID_COORDS[cell % 3], y: GRID_COORDS[Math.floor(cell / 3)] };
}

/**
 * Shape–colour pairs that never appear in the 'train' split and make up the 'heldout' split: one
 * per shape, each with a different colour, so every shape and every colour is still seen in training
 * (with other partners) and generalisation to new combinations can be measured.
 */
export const HELD_OUT_PAIRS: readonly { shape: ShapeName; colour: ColourName }[] = [
  { shape: 'star', colour: 'green' },
  { shape: 'heart', colour: 'yellow' },
  { shape: 'triangle', colour: 'purple' },
  { shape: 'circle', colour: 'orange' },
  { shape: 'square', colour: 'pink' },
  { shape: 'ring', colour: 'blue' },
  { shape: 'cross', colour: 'cyan' },
  { shape: 'diamond', colour: 'red' },
];

export function isHeldOutPair(shape: ShapeName, colour: ColourName): boolean {
  return HELD_OUT_PAIRS.some((p) => p.shape === shape && p.colour === colour);
}

/** Every shape–colour pair, in (shape, colour) order. */
export const ALL_PAIRS: readonly { shape: ShapeName; colour: ColourName }[] = SHAPES.flatMap((shape) =>
  COLOUR_NAMES.map((colour) => ({ shape, colour })),
);
export const TRAIN_PAIRS = ALL_PAIRS.filter((p) => !isHeldOutPair(p.shape, p.colour));
