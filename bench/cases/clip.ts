// CLIP image-encoder forward passes with random weights (throughput = batch / time per repetition).
// On lavapipe one 224×224 image through ViT-B/32 takes seconds: keep repetitions at 1–2.
import { noGrad, randn, tidy } from '@sd/autograd';
import { CLIP_CONFIGS, ModifiedResNet, VisionTransformer, disposeModule, type ClipModelName } from '@sd/models';
import type { BenchCase } from '../harness.ts';

/** Forward FLOPs of a ViT image tower (matmuls and attention; norms and activations ignored). */
function vitFlops(name: ClipModelName, batch: number): number {
  const { vision, embedDim } = CLIP_CONFIGS[name];
  if (vision.kind !== 'vit') return 0;
  const { imageResolution: r, patchSize: p, width: w, layers } = vision;
  const tokens = (r / p) ** 2 + 1;
  const patch = 2 * (tokens - 1) * 3 * p * p * w;
  const perLayer = 2 * tokens * w * (3 * w + w + 8 * w) + 4 * tokens * tokens * w;
  return batch * (patch + layers * perLayer + 2 * w * embedDim);
}

function imageEncoderCase(name: ClipModelName, batch: number): BenchCase {
  const { vision, embedDim } = CLIP_CONFIGS[name];
  const r = vision.imageResolution;
  return {
    kernel: 'clip',
    shape: `${name} image encoder [${batch},3,${r},${r}]`,
    flops: vitFlops(name, batch) || undefined,
    async setup() {
      const tower = vision.kind === 'vit' ? new VisionTransformer(vision, embedDim) : new ModifiedResNet(vision, embedDim);
      tower.eval();
      const images = randn([batch, 3, r, r]).keep();
      return {
        run: () => tidy(() => noGrad(() => void tower.forward(images))),
        dispose: () => {
          images.dispose();
          disposeModule(tower);
        },
      };
    },
  };
}

export const clipCases: BenchCase[] = [imageEncoderCase('ViT-B/32', 1)];
