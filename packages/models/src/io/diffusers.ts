// diffusers folders on disk. A model folder (`unet/`, `vae/`) holds config.json (the constructor
// arguments plus `_class_name` and `_diffusers_version`) and the weights; a pipeline folder holds
// model_index.json (component name → [library, class]) and one subfolder per component. Model-agnostic:
// callers validate the config keys and map names onto their modules.
import { existsSync, join, mkdirSync, readdirSync, statSync, unlinkSync } from '#host';
import type { nn, Tensor } from '@sd/autograd';
import { writeSafetensors, writeTextAtomic, type SafetensorsInput } from '@sd/io';
import { DIFFUSERS_BIN_INDEX_NAME, DIFFUSERS_WEIGHTS_INDEX_NAME, DIFFUSERS_WEIGHTS_NAME } from './diffusers-weights.ts';
import { describeJson, isPlainObject, readJsonObject } from './json.ts';

export * from './diffusers-weights.ts';

type HostTensor = nn.HostTensor;

export const DIFFUSERS_CONFIG_NAME = 'config.json';
export const PIPELINE_INDEX_NAME = 'model_index.json';
export const SCHEDULER_CONFIG_NAME = 'scheduler_config.json';
/**
 * Written as `_diffusers_version` when the caller gives none. diffusers reads it to decide on
 * old-checkpoint fixes (e.g. UNet sample_size before 0.9.0), so claim a recent release, not an old one.
 */
export const DEFAULT_DIFFUSERS_VERSION = '0.30.0';

const isDir = (path: string) => existsSync(path) && statSync(path).isDirectory();

/**
 * Reads `dir/config.json`. With `expectedClass`, its `_class_name` must be that class (or one of
 * them), so that e.g. a VAE folder given where a UNet is wanted fails here and not on a shape.
 */
export function readDiffusersConfig(dir: string, options: { expectedClass?: string | string[] } = {}): { config: Record<string, unknown>; file: string } {
  const file = join(dir, DIFFUSERS_CONFIG_NAME);
  if (!existsSync(file)) {
    if (!isDir(dir)) throw new Error(`${dir}: no such directory`);
    const pipelineHint = existsSync(join(dir, PIPELINE_INDEX_NAME)) ? `; it is a pipeline folder (${PIPELINE_INDEX_NAME}): pass its unet/ or vae/ subfolder` : '';
    throw new Error(`${dir}: no ${DIFFUSERS_CONFIG_NAME} (not a diffusers model folder)${pipelineHint}`);
  }
  const config = readJsonObject(file);
  if (options.expectedClass !== undefined) checkConfigClass(config, file, options.expectedClass);
  return { config, file };
}

/** A config's `_class_name` must be `expected` (or one of them); the error names `file`. */
export function checkConfigClass(config: Record<string, unknown>, file: string, expectedClass: string | string[]): void {
  const expected = typeof expectedClass === 'string' ? [expectedClass] : expectedClass;
  const found = config['_class_name'];
  if (typeof found !== 'string' || !expected.includes(found)) {
    const says = typeof found === 'string' ? `says _class_name '${found}'` : 'has no _class_name';
    throw new Error(`${file} ${says}, expected ${expected.length > 1 ? `one of ${expected.join(', ')}` : expected[0]}`);
  }
}

/** JSON as diffusers writes it (`json.dumps(indent=2, sort_keys=True) + "\n"`), so files diff cleanly against theirs. */
function diffusersJson(value: Record<string, unknown>): string {
  const sortKeys = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sortKeys) : isPlainObject(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])])) : v;
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}

const F16_MAX = 65504;

export interface WriteDiffusersOptions {
  /** Storage dtype of the weights; F16 halves the file (values must fit float16's ±65504). */
  dtype?: 'F32' | 'F16';
  /** Extra safetensors metadata; `format: 'pt'` is always added (transformers refuses files without it). */
  metadata?: Record<string, string>;
}

/**
 * Writes a diffusers model folder: `diffusion_pytorch_model.safetensors`, then config.json (both
 * atomically; the folder is created). `config` needs `_class_name`; `_diffusers_version` defaults to
 * DEFAULT_DIFFUSERS_VERSION. Stale shard indexes and shards are removed, since diffusers prefers a
 * sharded index over the single file and would otherwise load the old weights.
 */
export function writeDiffusersFolder(
  dir: string,
  config: Record<string, unknown>,
  state: Map<string, HostTensor> | Iterable<[string, HostTensor]>,
  options: WriteDiffusersOptions = {},
): { configFile: string; weightsFile: string } {
  const fail = (problem: string): never => {
    throw new Error(`writeDiffusersFolder ${dir}: ${problem}`);
  };
  if (!isPlainObject(config)) fail(`config must be an object, found ${describeJson(config)}`);
  const className = config['_class_name'];
  if (typeof className !== 'string' || className === '') fail(`config needs a string _class_name (e.g. 'UNet2DConditionModel'), found ${JSON.stringify(className)}`);
  const dtype = options.dtype ?? 'F32';
  const tensors = new Map<string, SafetensorsInput>();
  for (const [name, t] of state) {
    if (tensors.has(name)) fail(`tensor "${name}" given twice`);
    if (!(t.data instanceof Float32Array)) fail(`tensor "${name}" is not float32 (diffusers model weights are floating point)`);
    if (dtype === 'F16') {
      const i = t.data.findIndex((v) => Math.abs(v) > F16_MAX && Number.isFinite(v));
      if (i >= 0) fail(`tensor "${name}" shape [${t.shape.join(', ')}] holds ${t.data[i]} at index ${i}, beyond float16's ±${F16_MAX}`);
    }
    tensors.set(name, { shape: t.shape, data: t.data, dtype });
  }
  mkdirSync(dir, { recursive: true });
  const weightsFile = join(dir, DIFFUSERS_WEIGHTS_NAME);
  writeSafetensors(weightsFile, tensors, { ...options.metadata, format: 'pt' });
  removeStaleShards(dir);
  // config.json last: it is what marks the folder as a model, so it appears only once the weights are whole.
  const configFile = join(dir, DIFFUSERS_CONFIG_NAME);
  writeTextAtomic(configFile, diffusersJson({ ...config, _diffusers_version: config['_diffusers_version'] ?? DEFAULT_DIFFUSERS_VERSION }));
  return { configFile, weightsFile };
}

/** Deletes (non-variant) shard indexes and files named like diffusers shards (`…-00001-of-00002.safetensors`). */
function removeStaleShards(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (name === DIFFUSERS_WEIGHTS_INDEX_NAME || name === DIFFUSERS_BIN_INDEX_NAME || /^diffusion_pytorch_model-\d{5}-of-\d{5}\.(safetensors|bin)$/.test(name)) {
      unlinkSync(join(dir, name));
    }
  }
}

/**
 * Reads live tensors (e.g. `module.stateDict()`) back to the host, for writeDiffusersFolder.
 * Waits for each tensor in turn, so at most one extra copy is in flight.
 */
export async function hostStateDict(tensors: Map<string, Tensor> | Iterable<[string, Tensor]>): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of tensors) {
    const data = await t.read();
    if (data instanceof Uint32Array) throw new Error(`hostStateDict: tensor "${name}" shape [${t.shape.join(', ')}] is u32, which a state dict cannot hold`);
    out.set(name, { shape: [...t.shape], data });
  }
  return out;
}

export interface PipelineFolder {
  root: string;
  /** model_index.json as read; `_`-prefixed keys are metadata, other non-component keys are pipeline settings. */
  modelIndex: Record<string, unknown>;
  unet?: string;
  vae?: string;
  /** Path of scheduler/scheduler_config.json. */
  scheduler?: string;
  textEncoder?: string;
  /** Every component model_index.json names, as [library, class] (entries of [null, null] are left out). */
  components: Record<string, [string, string]>;
  /** Components model_index.json names whose subfolder (or its config file) is not on disk. */
  missing: string[];
}

/** The file whose presence makes `dir/<component>` usable: configs for models, scheduler_config.json for schedulers. */
const componentConfig = (component: string) => (component === 'scheduler' ? SCHEDULER_CONFIG_NAME : DIFFUSERS_CONFIG_NAME);

/** Reads a pipeline folder's model_index.json and locates its components (only those present on disk are set). */
export function resolvePipelineFolder(dir: string): PipelineFolder {
  const indexFile = join(dir, PIPELINE_INDEX_NAME);
  if (!existsSync(indexFile)) throw new Error(`${dir}: no ${PIPELINE_INDEX_NAME} (not a diffusers pipeline folder)`);
  const modelIndex = readJsonObject(indexFile);
  const components: Record<string, [string, string]> = {};
  for (const [key, value] of Object.entries(modelIndex)) {
    if (key.startsWith('_') || !Array.isArray(value)) continue; // metadata, or settings like requires_safety_checker
    if (value.length !== 2 || !value.every((v) => v === null || typeof v === 'string')) {
      throw new Error(`${indexFile}: "${key}" should be [library, class], found ${JSON.stringify(value)}`);
    }
    if (value[0] !== null && value[1] !== null) components[key] = [value[0], value[1]];
  }
  const folder: PipelineFolder = { root: dir, modelIndex, components, missing: [] };
  for (const component of Object.keys(components)) {
    const config = join(dir, component, componentConfig(component));
    if (!existsSync(config)) {
      folder.missing.push(component);
      continue;
    }
    if (component === 'unet') folder.unet = join(dir, component);
    else if (component === 'vae') folder.vae = join(dir, component);
    else if (component === 'text_encoder') folder.textEncoder = join(dir, component);
    else if (component === 'scheduler') folder.scheduler = config;
  }
  return folder;
}

/**
 * The model folder for `component` ('unet', 'vae', 'text_encoder', …): `dir` itself when it holds
 * config.json, else `dir/<component>` when `dir` is a pipeline folder, else an error saying why.
 */
export function resolveModelFolder(dir: string, component: string): string {
  if (existsSync(join(dir, DIFFUSERS_CONFIG_NAME))) return dir;
  if (!isDir(dir)) throw new Error(`${dir}: no such directory`);
  if (!existsSync(join(dir, PIPELINE_INDEX_NAME))) {
    throw new Error(`${dir}: neither a diffusers model folder (no ${DIFFUSERS_CONFIG_NAME}) nor a pipeline folder (no ${PIPELINE_INDEX_NAME})`);
  }
  const pipeline = resolvePipelineFolder(dir);
  const sub = join(dir, component);
  if (existsSync(join(sub, componentConfig(component)))) return sub;
  const listed = pipeline.components[component];
  if (!listed) {
    const names = Object.keys(pipeline.components);
    throw new Error(`${join(dir, PIPELINE_INDEX_NAME)} lists no component '${component}' (it lists ${names.length > 0 ? names.join(', ') : 'none'})`);
  }
  throw new Error(`${sub}: no ${componentConfig(component)}, though ${PIPELINE_INDEX_NAME} lists ${component} as ${listed.join('.')}`);
}
