// fromPretrained / savePretrained for the diffusers models: a model folder (or a pipeline folder's
// component) in, the same layout out, so weights move between diffusers and this project unchanged.
import { nn } from '@sd/autograd';
import { readSafetensors, type FileLoader } from '@sd/io';
import { join } from '#host';
import {
  checkConfigClass, DIFFUSERS_CONFIG_NAME, DIFFUSERS_WEIGHTS_NAME, floatWeights, hostStateDict, readDiffusersConfig, readDiffusersWeights, resolveModelFolder,
  writeDiffusersFolder, type WriteDiffusersOptions,
} from './diffusers.ts';
import { parseJsonObject } from './json.ts';

export interface PretrainedOptions {
  /** Missing, unexpected or mis-shaped tensors are an error (default); false loads what fits. */
  strict?: boolean;
  /** Where unknown-config-key warnings go (default: console.warn). */
  onWarning?: (message: string) => void;
}

/** A model built from a diffusers config: what load/save need to know about it. */
export interface DiffusersModel extends nn.Module {
  readonly warnings: string[];
  /** The config as given (diffusers' keys), written back by savePretrained. */
  readonly rawConfig: Record<string, unknown>;
  /** The result of the last load (lists are empty after a strict load). */
  loadResult: nn.LoadResult | null;
}

export interface LoadSpec<M extends DiffusersModel> {
  component: string;
  classNames: string[];
  build: (config: Record<string, unknown>, label: string) => M;
  /** Renames older or newer diffusers names onto the model's. */
  rename?: (state: Map<string, nn.HostTensor>) => Map<string, nn.HostTensor>;
}

export function loadPretrained<M extends DiffusersModel>(dir: string, spec: LoadSpec<M>, options: PretrainedOptions = {}): M {
  const folder = resolveModelFolder(dir, spec.component);
  const { config, file } = readDiffusersConfig(folder, { expectedClass: spec.classNames });
  const weights = readDiffusersWeights(folder);
  return buildLoaded(spec, config, file, weights.state, weights.files.join(', ') || join(folder, '*'), options);
}

/**
 * loadPretrained through a FileLoader (a page's fetchLoader, or fileLoader in Node): `dir` is a model
 * folder relative to the loader's root, holding config.json and diffusion_pytorch_model.safetensors
 * (what savePretrained writes). A loader cannot list a folder, so pipeline folders, shards and .bin
 * weights, which loadPretrained finds by looking, are not read here.
 */
export async function loadPretrainedFrom<M extends DiffusersModel>(loader: FileLoader, dir: string, spec: LoadSpec<M>, options: PretrainedOptions = {}): Promise<M> {
  const folder = dir.replace(/\/+$/, '');
  const file = `${folder}/${DIFFUSERS_CONFIG_NAME}`;
  const config = parseJsonObject(await loader.text(file), file);
  checkConfigClass(config, file, spec.classNames);
  const weightsFile = `${folder}/${DIFFUSERS_WEIGHTS_NAME}`;
  const state = floatWeights(readSafetensors(await loader.bytes(weightsFile), { label: weightsFile }).tensors, weightsFile);
  return buildLoaded(spec, config, file, state, weightsFile, options);
}

/** Builds the model from its config and loads `weights` into it (both loaders end here). */
function buildLoaded<M extends DiffusersModel>(
  spec: LoadSpec<M>,
  config: Record<string, unknown>,
  file: string,
  weights: Map<string, nn.HostTensor>,
  source: string,
  options: PretrainedOptions,
): M {
  const strict = options.strict ?? true;
  const state = spec.rename ? spec.rename(weights) : weights;
  // A strict load overwrites every parameter, so drawing initial values first would be wasted work.
  const model = strict ? nn.init.withoutInit(() => spec.build(config, file)) : spec.build(config, file);
  try {
    model.loadResult = model.loadStateDict(state, { strict, source });
  } catch (e) {
    model.dispose();
    throw e;
  }
  for (const w of model.warnings) (options.onWarning ?? console.warn)(w);
  return model;
}

export async function savePretrained(model: DiffusersModel, className: string, dir: string, options: WriteDiffusersOptions = {}): Promise<void> {
  const state = await hostStateDict(model.stateDict());
  writeDiffusersFolder(dir, { ...model.rawConfig, _class_name: className }, state, options);
}
