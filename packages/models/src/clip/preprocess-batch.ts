// A batch of RGB images → CLIP-preprocessed pixels [B, 3, R, R] on the host.
import type { RgbImage } from '../data/index.ts';
import { clipPreprocess } from './preprocess.ts';

export function preprocessBatch(images: readonly RgbImage[], resolution: number): Float32Array {
  const per = 3 * resolution * resolution;
  const out = new Float32Array(images.length * per);
  images.forEach((image, i) => out.set(clipPreprocess(image, resolution), i * per));
  return out;
}
