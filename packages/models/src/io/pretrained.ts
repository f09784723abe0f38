// fromPretrained / savePretrained for the diffusers models: a model folder (or a pipeline folder's
// component) in, the same layout out, so weights move between diffusers and this project unchanged.
import { nn } from '@sd/autograd';
import { join } from 'node:path';
import { hostStateDict, readDiffusersConfig, readDiffusersWeights, resolveModelFolder, writeDiffusersFolder, type WriteDiffusersOptions } from './diffusers.ts';

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
  const strict = options.strict ?? true;
  const weights = readDiffusersWeights(folder);
  const state = spec.rename ? spec.rename(weights.state) : weights.state;
  // A strict load overwrites every parameter, so drawing initial values first would be wasted work.
  const model = strict ? nn.init.withoutInit(() => spec.build(config, file)) : spec.build(config, file);
  try {
    model.loadResult = model.loadStateDict(state, { strict, source: weights.files.join(', ') || join(folder, '*') });
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
