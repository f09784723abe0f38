// The golden folders of diffusers' own UNet/VAE outputs (../shared/data/decoder-golden), read the
// same way by the decoder tests and by scripts/decoder-golden.ts, which prints the errors they assert.
import { join, resolve } from 'node:path';
import { noGrad, tensor, tidy, type Tensor } from '@sd/autograd';
import { readSafetensors } from '@sd/io';
import { UNet2DConditionModelEmb, type UNet2DConditionModel } from '../../packages/models/src/unet/model.ts';

export const GOLDEN = resolve(import.meta.dirname, '../../../shared/data/decoder-golden');

/** The inputs and outputs stored in `folder`/golden.safetensors. */
export function goldens(folder: string) {
  const g = readSafetensors(join(GOLDEN, folder, 'golden.safetensors')).tensors;
  const entry = (k: string) => {
    const t = g.get(k);
    if (!t) throw new Error(`${folder}/golden.safetensors: no tensor "${k}"`);
    return t;
  };
  return {
    tensor: (k: string): Tensor => tensor(entry(k).data as Float32Array, entry(k).shape),
    host: (k: string) => entry(k).data as Float32Array,
    timesteps: () => Array.from(entry('timestep').data),
  };
}

/** The UNet's output on the folder's stored inputs (image embedding for the seed's Emb UNet). */
export function goldenUNetOutput(model: UNet2DConditionModel, folder: string): Promise<Float32Array> {
  const g = goldens(folder);
  return noGrad(() =>
    tidy(() =>
      model instanceof UNet2DConditionModelEmb
        ? model.forwardEmb({ sample: g.tensor('sample'), timestep: g.timesteps(), imageEmbedding: g.tensor('image_embedding') })
        : model.forward({ sample: g.tensor('sample'), timestep: g.timesteps(), encoderHiddenStates: g.tensor('encoder_hidden_states') }),
    ).read(),
  ) as Promise<Float32Array>;
}

/** max |got − want| and max |want|: the golden criterion is err ≤ 1e-4 · scale. */
export function goldenError(got: ArrayLike<number>, want: ArrayLike<number>): { err: number; scale: number } {
  if (got.length !== want.length) throw new Error(`goldenError: ${got.length} values against ${want.length}`);
  let scale = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    err = Math.max(err, Math.abs(got[i] - want[i]));
  }
  return { err, scale };
}
