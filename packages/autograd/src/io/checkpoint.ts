// Checkpoints: named groups of device tensors (model, optimizer, EMA, …) in one safetensors file,
// written atomically. Group "model" with tensor "a.b" is stored as "model.a.b".
import type { HostTensor } from '../nn/module.ts';
import type { Tensor } from '../tensor.ts';
import { readSafetensors, writeSafetensors, type SafetensorsFile, type SafetensorsInput } from '@sd/io';

export type TensorGroups = Record<string, Map<string, Tensor>>;

/** Reads every tensor back from the GPU and writes them (plus string metadata) to `path` atomically. */
export async function saveCheckpoint(path: string, groups: TensorGroups, metadata: Record<string, string> = {}): Promise<void> {
  const entries: [string, Tensor][] = [];
  for (const [group, tensors] of Object.entries(groups)) for (const [name, t] of tensors) entries.push([`${group}.${name}`, t]);
  const host = await Promise.all(entries.map(async ([, t]) => t.read()));
  const out = new Map<string, SafetensorsInput>();
  entries.forEach(([name, t], i) => {
    const data = host[i];
    out.set(name, { shape: [...t.shape], data: data instanceof Uint32Array ? new Int32Array(data.buffer) : data });
  });
  writeSafetensors(path, out, metadata);
}

export interface LoadedCheckpoint {
  groups: Record<string, Map<string, HostTensor>>;
  metadata: Record<string, string>;
}

/** Reads a checkpoint written by `saveCheckpoint`, split back into its groups. */
export function loadCheckpoint(path: string): LoadedCheckpoint {
  const file = readSafetensors(path);
  return { groups: checkpointGroups(file, path), metadata: file.metadata };
}

/** The tensors of a checkpoint file already read, by group ("model.a.b" → groups.model "a.b"). */
export function checkpointGroups(file: SafetensorsFile, label: string): Record<string, Map<string, HostTensor>> {
  const groups: Record<string, Map<string, HostTensor>> = {};
  for (const [name, t] of file.tensors) {
    const dot = name.indexOf('.');
    if (dot < 0) throw new Error(`${label}: tensor "${name}" belongs to no group (expected "group.name")`);
    const group = name.slice(0, dot);
    (groups[group] ??= new Map()).set(name.slice(dot + 1), { shape: t.shape, data: t.data });
  }
  return groups;
}
