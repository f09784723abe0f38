// The EMA's part of a checkpoint, shared by the trainers that keep one (prior, decoder): the shadow
// weights under the model's parameter names, and their restoration on resume.
import { type LoadedCheckpoint, type nn, type optim, type Tensor } from '@sd/autograd';
import { DeviceArray } from '@sd/kernels';

/** The shadow weights named like the model's parameters (the checkpoint's `ema` group). */
export function emaGroup(model: nn.Module, ema: optim.EMA): Map<string, Tensor> {
  const names = [...model.namedParameters()].map(([n]) => n);
  return new Map(ema.shadow.map((s, i) => [names[i], s]));
}

/**
 * Restores the shadow weights and the optimization step from a checkpoint written with emaGroup, so
 * the decay schedule continues where it stopped (a resumed run averages exactly as an uninterrupted one).
 */
export function restoreEma(model: nn.Module, ema: optim.EMA, checkpoint: LoadedCheckpoint, path: string): void {
  const names = [...model.namedParameters()].map(([n]) => n);
  ema.shadow.forEach((s, i) => {
    const host = checkpoint.groups.ema?.get(names[i]);
    if (!host) throw new Error(`${path}: EMA weight "${names[i]}" missing`);
    s.assign(DeviceArray.from(host.data, host.shape));
  });
  ema.optimizationStep = Number(checkpoint.metadata.step);
}
