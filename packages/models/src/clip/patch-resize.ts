// Warm-starting a ViT at a finer input with the same token grid (e.g. 32 px / patch 8 → 64 px /
// patch 16): positional embeddings and blocks carry over unchanged, and the patch kernel is
// upsampled so that, on the finer image, it computes what the old kernel computed on the image's
// 2×2 (f×f) box-downsampled copy. Training then starts where the old model was and can use the detail.
import type { nn } from '@sd/autograd';
import type { ClipConfig, ClipViTConfig } from './config.ts';

/** [O, C, p, p] → [O, C, p·f, p·f]: each weight spread over an f×f block, divided by f². */
export function upsamplePatchKernel(weight: nn.HostTensor, factor: number): nn.HostTensor {
  const [o, c, p, q] = weight.shape;
  if (weight.shape.length !== 4 || p !== q) throw new Error(`upsamplePatchKernel: expected a square [O, C, p, p] kernel, got [${weight.shape.join(', ')}]`);
  if (!(Number.isInteger(factor) && factor >= 1)) throw new Error(`upsamplePatchKernel: factor must be a positive integer, got ${factor}`);
  const P = p * factor;
  const out = new Float32Array(o * c * P * P);
  const scale = 1 / (factor * factor);
  for (let plane = 0; plane < o * c; plane++) {
    for (let y = 0; y < P; y++) {
      for (let x = 0; x < P; x++) {
        out[plane * P * P + y * P + x] = weight.data[plane * p * p + Math.floor(y / factor) * p + Math.floor(x / factor)] * scale;
      }
    }
  }
  return { shape: [o, c, P, P], data: out };
}

/**
 * A ViT CLIP's config and weights moved to a new resolution and patch size with the same token grid.
 * Only integer upsampling of the patch is supported (the other direction would discard detail).
 */
export function resizeVitInput(
  config: ClipConfig,
  state: Map<string, nn.HostTensor>,
  target: { imageResolution: number; patchSize: number },
): { config: ClipConfig; state: Map<string, nn.HostTensor> } {
  const vision = config.vision;
  if (vision.kind !== 'vit') throw new Error(`resizeVitInput: only ViT image encoders have a patch size (got ${vision.kind})`);
  const from = `${vision.imageResolution} px / patch ${vision.patchSize}`;
  const to = `${target.imageResolution} px / patch ${target.patchSize}`;
  if (target.imageResolution / target.patchSize !== vision.imageResolution / vision.patchSize) {
    throw new Error(`resizeVitInput: ${from} → ${to} changes the token grid; positional embeddings would not carry over`);
  }
  const factor = target.patchSize / vision.patchSize;
  if (!Number.isInteger(factor)) throw new Error(`resizeVitInput: ${from} → ${to}: the new patch must be a whole multiple of the old`);
  const kernel = state.get('visual.conv1.weight');
  if (!kernel) throw new Error('resizeVitInput: the weights have no visual.conv1.weight');
  const resized = new Map(state);
  resized.set('visual.conv1.weight', upsamplePatchKernel(kernel, factor));
  const newVision: ClipViTConfig = { ...vision, ...target };
  return { config: { ...config, vision: newVision }, state: resized };
}
