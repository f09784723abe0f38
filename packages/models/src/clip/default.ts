// The project's default embedding model: a small CLIP trained on the procedural captioned images
// (`pnpm train:clip`), committed as assets/default-clip.safetensors (F16, OpenAI parameter names).
import { dirname, existsSync, fileURLToPath, join, mkdirSync } from '#host';
import { noGrad, type nn } from '@sd/autograd';
import { readSafetensors, writeSafetensors, type FileLoader, type SafetensorsFile, type SafetensorsInput } from '@sd/io';
import type { ClipConfig } from './config.ts';
import type { ImageTextEncoder } from './embedding-space.ts';
import { CLIP, MultiCLIP, type MultiClipOptions } from './model.ts';
import { clipFromStateDict, disposeModule, loadClip } from './weights.ts';

/**
 * ViT 64 px / patch 16 (16 tokens), width 64 × 3 layers; text context 32 (captions need ≤ 30 tokens),
 * width 64 × 2 layers; 64-d embeddings. Sized to train on two CPU cores through lavapipe (its first
 * stages run at 32 px / patch 8, the same token grid, and are then moved up; see the README).
 */
export const DEFAULT_CLIP_CONFIG: ClipConfig = {
  embedDim: 64,
  vision: { kind: 'vit', imageResolution: 64, patchSize: 16, width: 64, layers: 3, heads: 2 },
  text: { contextLength: 32, vocabSize: 49408, width: 64, heads: 2, layers: 2 },
};

/** Seed of the procedural dataset the default CLIP (and the embedded prior data) come from. */
export const DEFAULT_DATA_SEED = 2023;

export function assetsDir(): string {
  if (process.env.SD_ASSETS) return process.env.SD_ASSETS;
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'assets');
}

const EXPORT_FORMAT = 'sd-clip/1';

export const defaultClipPath = (): string => join(assetsDir(), 'default-clip.safetensors');

/** Writes a CLIP's weights as F16 safetensors with its config in the metadata (integer buffers, e.g. a ResNet's batch counts, as they are). */
export async function exportClip(model: CLIP, path: string, extraMetadata: Record<string, string> = {}): Promise<void> {
  const tensors = new Map<string, SafetensorsInput>();
  for (const [name, t] of model.stateDict()) {
    const data = await t.read();
    if (data instanceof Float32Array) tensors.set(name, { shape: [...t.shape], data, dtype: 'F16' });
    else if (data instanceof Int32Array) tensors.set(name, { shape: [...t.shape], data });
    else throw new Error(`exportClip: ${name} has a dtype safetensors export does not take (${t.dtype})`);
  }
  mkdirSync(dirname(path), { recursive: true });
  writeSafetensors(path, tensors, { format: EXPORT_FORMAT, config: JSON.stringify(model.config), ...extraMetadata });
}

/** Loads a CLIP written by `exportClip` (config from its metadata), in eval mode. */
export function loadExportedClip(path: string): CLIP {
  if (!existsSync(path)) throw new Error(`${path}: no CLIP checkpoint here${path === defaultClipPath() ? ' (train one with `pnpm train:clip`)' : ''}`);
  return clipFromExport(readSafetensors(path), path);
}

/** loadExportedClip through a FileLoader (a page): `path` is relative to the loader's root and must be an `exportClip` file. */
export async function loadExportedClipFrom(loader: FileLoader, path: string): Promise<CLIP> {
  return clipFromExportFile(readSafetensors(await loader.bytes(path), { label: path }), path);
}

/** An `exportClip` file already read (refused, naming it, if it is another kind of file). */
function clipFromExportFile(file: SafetensorsFile, path: string): CLIP {
  if (!isExportedClip(file)) throw new Error(`${path}: not a CLIP written by exportClip (metadata format ${JSON.stringify(file.metadata.format ?? null)}, expected "${EXPORT_FORMAT}")`);
  return clipFromExport(file, path);
}

function clipFromExport(file: SafetensorsFile, label: string): CLIP {
  const { config, state } = exportedClipWeights(file);
  return noGrad(() => clipFromStateDict(state, { label, visionHeads: config?.vision.heads, textHeads: config?.text.heads }));
}

/** The config (from the metadata, if any) and OpenAI-named weights of an `exportClip` file already read. */
export function exportedClipWeights(file: SafetensorsFile): { config?: ClipConfig; state: Map<string, nn.HostTensor> } {
  const config = file.metadata.config ? (JSON.parse(file.metadata.config) as ClipConfig) : undefined;
  return { config, state: new Map([...file.tensors].map(([n, t]) => [n, { shape: t.shape, data: t.data }])) };
}

/** True for files written by `exportClip`. */
export const isExportedClip = (file: SafetensorsFile): boolean => file.metadata.format === EXPORT_FORMAT;

/**
 * Any CLIP checkpoint by path: an `exportClip` file (its config in the metadata, like the default
 * CLIP), or what `loadClip` reads (an OpenAI `.pt`, a Hugging Face CLIPModel checkpoint).
 */
export function openClip(path: string): CLIP {
  if (!existsSync(path)) throw new Error(`${path}: no CLIP checkpoint here`);
  if (path.endsWith('.safetensors') && isExportedClip(readSafetensors(path))) return loadExportedClip(path);
  return loadClip(path);
}

/**
 * The embedding model of several checkpoints: one path gives that CLIP (unit rows); several give a
 * MultiCLIP of them in order (each model's block unit-normalised unless `normalize` is false).
 */
export function openClips(paths: readonly string[], options: MultiClipOptions = {}): ImageTextEncoder {
  return encoderOf(paths, openClip, options, 'openClips');
}

/** openClips through a FileLoader (a page): each path an `exportClip` file relative to the loader's root. */
export async function loadExportedClipsFrom(loader: FileLoader, paths: readonly string[], options: MultiClipOptions = {}): Promise<ImageTextEncoder> {
  // Every file is read before any model goes to the GPU.
  const files = new Map<string, SafetensorsFile>();
  for (const path of paths) files.set(path, readSafetensors(await loader.bytes(path), { label: path }));
  return encoderOf(paths, (path) => clipFromExportFile(files.get(path)!, path), options, 'loadExportedClipsFrom');
}

/** One CLIP, or a MultiCLIP of several, each opened by `open`; a failure frees the models already opened. */
function encoderOf(paths: readonly string[], open: (path: string) => CLIP, options: MultiClipOptions, what: string): ImageTextEncoder {
  if (paths.length === 0) throw new Error(`${what}: no CLIP checkpoint given`);
  const models: CLIP[] = [];
  try {
    for (const path of paths) models.push(open(path));
  } catch (e) {
    models.forEach(disposeModule); // the ones already on the GPU
    throw e;
  }
  return models.length === 1 ? models[0] : new MultiCLIP(models, options);
}

export function loadDefaultClip(): CLIP {
  return loadExportedClip(defaultClipPath());
}
