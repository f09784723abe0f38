// CLIP model configurations: OpenAI's released sizes, tiny test sizes, and inference from a state dict
// (the same rules as OpenAI's build_model, plus explicit head counts for models whose width is not a
// multiple of 64).

export interface ClipTextConfig {
  contextLength: number;
  vocabSize: number;
  width: number;
  heads: number;
  layers: number;
}

export interface ClipViTConfig {
  kind: 'vit';
  imageResolution: number;
  patchSize: number;
  width: number;
  layers: number;
  heads: number;
}

export interface ClipResNetConfig {
  kind: 'resnet';
  imageResolution: number;
  /** Bottleneck blocks per stage, e.g. [3, 4, 23, 3] for RN101. */
  layers: [number, number, number, number];
  /** Stem width; the final feature width is 32× this. */
  width: number;
  /** Heads of the attention pool. */
  heads: number;
}

export type ClipVisionConfig = ClipViTConfig | ClipResNetConfig;

export interface ClipConfig {
  /** Joint embedding size (output of encodeImage / encodeText). */
  embedDim: number;
  vision: ClipVisionConfig;
  text: ClipTextConfig;
}

const OPENAI_TEXT: ClipTextConfig = { contextLength: 77, vocabSize: 49408, width: 512, heads: 8, layers: 12 };

/** OpenAI's released models (fp16 weights in their .pt files; the architectures are float32 here). */
export const CLIP_CONFIGS = {
  'ViT-B/32': { embedDim: 512, vision: { kind: 'vit', imageResolution: 224, patchSize: 32, width: 768, layers: 12, heads: 12 }, text: OPENAI_TEXT },
  'ViT-B/16': { embedDim: 512, vision: { kind: 'vit', imageResolution: 224, patchSize: 16, width: 768, layers: 12, heads: 12 }, text: OPENAI_TEXT },
  RN50: { embedDim: 1024, vision: { kind: 'resnet', imageResolution: 224, layers: [3, 4, 6, 3], width: 64, heads: 32 }, text: OPENAI_TEXT },
  RN101: { embedDim: 512, vision: { kind: 'resnet', imageResolution: 224, layers: [3, 4, 23, 3], width: 64, heads: 32 }, text: OPENAI_TEXT },
  /** Tiny ViT CLIP for tests (the shapes of test/fixtures/clip/vit_*). */
  'tiny-vit': {
    embedDim: 16,
    vision: { kind: 'vit', imageResolution: 32, patchSize: 8, width: 24, layers: 2, heads: 3 },
    text: { contextLength: 16, vocabSize: 96, width: 24, heads: 3, layers: 2 },
  },
  /** Tiny ModifiedResNet CLIP for tests (the shapes of test/fixtures/clip/rn_jit.pt). */
  'tiny-rn': {
    embedDim: 16,
    vision: { kind: 'resnet', imageResolution: 64, layers: [1, 1, 1, 1], width: 4, heads: 2 },
    text: { contextLength: 8, vocabSize: 64, width: 16, heads: 2, layers: 1 },
  },
} satisfies Record<string, ClipConfig>;

export type ClipModelName = keyof typeof CLIP_CONFIGS;

/** The three models whose 512-d embeddings the seed concatenates into 1536-d. */
export const SEED_CLIP_MODELS: readonly ClipModelName[] = ['ViT-B/32', 'ViT-B/16', 'RN101'];

export interface InferOptions {
  /** Vision heads; default as OpenAI: width/64 (ViT) or width·32/64 (ResNet). */
  visionHeads?: number;
  /** Text heads; default as OpenAI: width/64. */
  textHeads?: number;
}

/** Shapes of a state dict in OpenAI names (`visual.conv1.weight`, `transformer.resblocks.0…`). */
export type ShapeMap = ReadonlyMap<string, { shape: readonly number[] }>;

function shapeOf(state: ShapeMap, name: string, label: string): readonly number[] {
  const t = state.get(name);
  if (!t) throw new Error(`${label}: not a CLIP state dict (no "${name}")`);
  return t.shape;
}

function heads(width: number, explicit: number | undefined, what: string, label: string): number {
  const h = explicit ?? width / 64;
  if (!Number.isInteger(h) || h < 1 || width % h !== 0) {
    throw new Error(`${label}: cannot infer ${what} heads from width ${width} (OpenAI uses width/64); pass ${what}Heads`);
  }
  return h;
}

/** Distinct values of the path component `index` over names starting with `prefix`. */
function countDistinct(state: ShapeMap, prefix: string, index: number): number {
  const seen = new Set<string>();
  for (const name of state.keys()) if (name.startsWith(prefix)) seen.add(name.split('.')[index]);
  return seen.size;
}

/**
 * The config of a CLIP state dict in OpenAI names, from its shapes (OpenAI's build_model rules).
 * Head counts are not stored in a checkpoint: OpenAI derives them from widths, and so do we unless told.
 */
export function inferClipConfig(state: ShapeMap, options: InferOptions = {}, label = 'CLIP state dict'): ClipConfig {
  let vision: ClipVisionConfig;
  if (state.has('visual.proj')) {
    const conv = shapeOf(state, 'visual.conv1.weight', label);
    const positions = shapeOf(state, 'visual.positional_embedding', label)[0];
    const grid = Math.round(Math.sqrt(positions - 1));
    if (grid * grid + 1 !== positions) throw new Error(`${label}: visual.positional_embedding has ${positions} rows, not grid² + 1`);
    const width = conv[0];
    let layers = 0;
    for (const name of state.keys()) if (name.startsWith('visual.') && name.endsWith('.attn.in_proj_weight')) layers++;
    vision = { kind: 'vit', imageResolution: conv[3] * grid, patchSize: conv[3], width, layers, heads: heads(width, options.visionHeads, 'vision', label) };
  } else if (state.has('visual.attnpool.positional_embedding')) {
    const positions = shapeOf(state, 'visual.attnpool.positional_embedding', label)[0];
    const side = Math.round(Math.sqrt(positions - 1));
    if (side * side + 1 !== positions) throw new Error(`${label}: visual.attnpool.positional_embedding has ${positions} rows, not side² + 1`);
    const layers = [1, 2, 3, 4].map((b) => countDistinct(state, `visual.layer${b}.`, 2)) as [number, number, number, number];
    const width = shapeOf(state, 'visual.layer1.0.conv1.weight', label)[0];
    vision = { kind: 'resnet', imageResolution: side * 32, layers, width, heads: heads(width * 32, options.visionHeads, 'vision', label) };
  } else {
    throw new Error(`${label}: not a CLIP state dict (neither visual.proj (ViT) nor visual.attnpool.positional_embedding (ResNet) is present)`);
  }
  const textWidth = shapeOf(state, 'ln_final.weight', label)[0];
  const text: ClipTextConfig = {
    contextLength: shapeOf(state, 'positional_embedding', label)[0],
    vocabSize: shapeOf(state, 'token_embedding.weight', label)[0],
    width: textWidth,
    heads: heads(textWidth, options.textHeads, 'text', label),
    layers: countDistinct(state, 'transformer.resblocks.', 2),
  };
  return { embedDim: shapeOf(state, 'text_projection', label)[1], vision, text };
}
