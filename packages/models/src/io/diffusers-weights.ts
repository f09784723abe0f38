// Reading the weights of a diffusers model folder (what `ModelMixin.save_pretrained` writes):
// one `diffusion_pytorch_model.safetensors`, a sharded set behind `….safetensors.index.json`, or the
// older PyTorch pickles (`diffusion_pytorch_model.bin`, possibly sharded behind `….bin.index.json`).
// Everything comes back as host float32 tensors under diffusers' own names; no renaming happens here.
import { join, readdirSync, statSync } from '#host';
import type { nn } from '@sd/autograd';
import { readSafetensors, readTorchStateDict } from '@sd/io';
import { isPlainObject, readJsonObject } from './json.ts';

type HostTensor = nn.HostTensor;


export type DiffusersWeightFormat = 'safetensors' | 'sharded-safetensors' | 'bin' | 'sharded-bin';

export interface DiffusersWeights {
  /** Tensors by diffusers name (`down_blocks.0.resnets.0.conv1.weight`), all Float32Array. */
  state: Map<string, HostTensor>;
  /** Files read, in reading order (the index first when sharded). */
  files: string[];
  format: DiffusersWeightFormat;
}

export const DIFFUSERS_WEIGHTS_NAME = 'diffusion_pytorch_model.safetensors';
export const DIFFUSERS_WEIGHTS_INDEX_NAME = 'diffusion_pytorch_model.safetensors.index.json';
export const DIFFUSERS_BIN_NAME = 'diffusion_pytorch_model.bin';
export const DIFFUSERS_BIN_INDEX_NAME = 'diffusion_pytorch_model.bin.index.json';

/**
 * diffusers' `_add_variant`: the variant goes before the extension, or before `.index.json`
 * (`diffusion_pytorch_model.fp16.safetensors`, `diffusion_pytorch_model.safetensors.fp16.index.json`).
 */
export function addVariant(name: string, variant?: string): string {
  if (!variant) return name;
  const parts = name.split('.');
  const at = name.endsWith('.index.json') ? parts.length - 2 : parts.length - 1;
  return [...parts.slice(0, at), variant, ...parts.slice(at)].join('.');
}

/** Runs a reader and makes sure its error names `path` (Node's own errors, e.g. for files over 2 GiB, do not). */
function naming<T>(path: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.message.includes(path)) throw err;
    const hint = err.code === 'ERR_FS_FILE_TOO_LARGE' ? ' (Node reads at most 2 GiB at once: use a sharded or fp16 checkpoint)' : '';
    throw new Error(`${path}: ${err.message}${hint}`, { cause: err });
  }
}

/** Reads one weight file and checks that every tensor is floating point (diffusers models hold no integers). */
function readWeightFile(path: string, kind: 'safetensors' | 'bin'): Map<string, HostTensor> {
  return floatWeights(naming(path, () => (kind === 'safetensors' ? readSafetensors(path).tensors : readTorchStateDict(path))), path);
}

/** The tensors of a weight file already read (a page fetches it), checked to be floating point; errors name `path`. */
export function floatWeights(tensors: Map<string, { dtype: string; shape: readonly number[]; data: Float32Array | Int32Array }>, path: string): Map<string, HostTensor> {
  const state = new Map<string, HostTensor>();
  for (const [name, t] of tensors) {
    if (!(t.data instanceof Float32Array)) {
      throw new Error(`${path}: tensor "${name}" has integer dtype ${t.dtype}; diffusers model weights are floating point`);
    }
    // Readers already widen F16/BF16/F64 to Float32Array; keep only shape and data (no strides, dtype).
    state.set(name, { shape: [...t.shape], data: t.data });
  }
  return state;
}

const isFile = (path: string) => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/** Parses a shard index: `weight_map` tensor name → shard file name (a plain name inside the folder). */
function readShardIndex(indexPath: string): Map<string, string[]> {
  const fail = (problem: string): never => {
    throw new Error(`${indexPath}: ${problem}`);
  };
  const weightMap = readJsonObject(indexPath).weight_map;
  if (!isPlainObject(weightMap)) return fail('has no "weight_map" object');
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string') fail(`weight_map["${name}"] is ${JSON.stringify(shard)}, not a file name`);
    // Shards live beside the index; a path would let an index point anywhere on the disk.
    const file = shard as string;
    if (file === '' || file === '.' || file === '..' || /[/\\]/.test(file)) fail(`weight_map["${name}"] names "${file}", not a file in the folder`);
    byShard.set(file, [...(byShard.get(file) ?? []), name]);
  }
  if (byShard.size === 0) fail('weight_map is empty');
  return byShard;
}

/** Reads every shard an index names and checks that each holds exactly the tensors assigned to it. */
function readSharded(dir: string, indexName: string, kind: 'safetensors' | 'bin'): { state: Map<string, HostTensor>; files: string[] } {
  const indexPath = join(dir, indexName);
  const byShard = readShardIndex(indexPath);
  const missing = [...byShard].filter(([shard]) => !isFile(join(dir, shard)));
  if (missing.length > 0) {
    const list = missing.map(([shard, names]) => `${shard} (${names.length} tensors, e.g. "${names[0]}")`).join(', ');
    throw new Error(`${indexPath}: shard file${missing.length > 1 ? 's' : ''} missing from ${dir}: ${list}`);
  }
  const assignedTo = new Map<string, string>();
  for (const [shard, names] of byShard) for (const name of names) assignedTo.set(name, shard);
  const state = new Map<string, HostTensor>();
  const files = [indexPath];
  for (const [shard, names] of byShard) {
    const path = join(dir, shard);
    const tensors = readWeightFile(path, kind);
    for (const name of names) {
      if (!tensors.has(name)) throw new Error(`${indexPath} assigns tensor "${name}" to ${shard}, but ${path} does not hold it`);
    }
    for (const [name, t] of tensors) {
      const owner = assignedTo.get(name);
      if (owner !== shard) {
        throw new Error(`${path} holds tensor "${name}", which ${indexPath} ${owner ? `assigns to ${owner}` : 'does not list'}`);
      }
      state.set(name, t);
    }
    files.push(path);
  }
  return { state, files };
}

/**
 * Reads the weights of a diffusers model folder, in diffusers' order of preference: a single
 * safetensors file, a sharded safetensors set, then the `.bin` forms. `variant` selects e.g.
 * `diffusion_pytorch_model.fp16.safetensors`. F16/BF16/F64 tensors arrive as Float32Array;
 * integer tensors, a missing or mis-assigned shard, and unreadable files throw naming the file.
 */
export function readDiffusersWeights(dir: string, options: { variant?: string } = {}): DiffusersWeights {
  const { variant } = options;
  const single = addVariant(DIFFUSERS_WEIGHTS_NAME, variant);
  const index = addVariant(DIFFUSERS_WEIGHTS_INDEX_NAME, variant);
  const bin = addVariant(DIFFUSERS_BIN_NAME, variant);
  const binIndex = addVariant(DIFFUSERS_BIN_INDEX_NAME, variant);
  if (isFile(join(dir, single))) {
    const path = join(dir, single);
    return { state: readWeightFile(path, 'safetensors'), files: [path], format: 'safetensors' };
  }
  if (isFile(join(dir, index))) return { ...readSharded(dir, index, 'safetensors'), format: 'sharded-safetensors' };
  if (isFile(join(dir, bin))) {
    const path = join(dir, bin);
    return { state: readWeightFile(path, 'bin'), files: [path], format: 'bin' };
  }
  if (isFile(join(dir, binIndex))) return { ...readSharded(dir, binIndex, 'bin'), format: 'sharded-bin' };
  throw new Error(`${dir}: no diffusers weights (looked for ${[single, index, bin, binIndex].join(', ')})${weightFilesHint(dir)}`);
}

/** Names weight-like files that are there, so a variant or a transformers folder is easy to spot. */
function weightFilesHint(dir: string): string {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    return `; cannot list the folder (${(e as Error).message})`;
  }
  const weights = names.filter((n) => /\.(safetensors|bin|ckpt|pt|pth)$|\.index\.json$/.test(n)).sort();
  if (weights.length === 0) return '';
  const variants = [...new Set(weights.map((n) => /^diffusion_pytorch_model\.(?:(?:safetensors|bin)\.)?([^.]+)\.(?:safetensors|bin|index\.json)$/.exec(n)?.[1]))]
    .filter((v): v is string => v !== undefined && v !== 'safetensors' && v !== 'bin');
  const variantHint = variants.length > 0 ? `; for a variant pass { variant: ${variants.map((v) => `'${v}'`).join(' | ')} }` : '';
  return `; found ${weights.slice(0, 8).join(', ')}${weights.length > 8 ? ', …' : ''}${variantHint}`;
}
