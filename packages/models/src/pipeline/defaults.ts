// The committed default parts of the text → image stack (packages/models/assets/): what `sd sample`
// and `sd eval-decoder` fall back to when no run directory of the trainers exists, so a fresh clone
// generates images without training anything. Each folder's metadata.json names the command that
// reproduces it and its measured metrics.
import { join } from 'node:path';
import { assetsDir } from '../clip/default.ts';

/** The diffusers AutoencoderKL folder (`pnpm train:vae`'s final/). */
export const defaultVaeDir = (): string => join(assetsDir(), 'default-vae');
/** The diffusers UNet2DConditionModelEmb folder (`pnpm train:decoder`'s final/). */
export const defaultDecoderDir = (): string => join(assetsDir(), 'default-decoder');
/** A prior of `pnpm train:prior`'s default run: model weights and shift statistics only (no optimizer state), which loadPrior reads. */
export const defaultPriorPath = (kind: 'shifted' | 'baseline'): string => join(assetsDir(), 'default-prior', `${kind}.safetensors`);
