// What a trained VAE is measured by: reconstruction PSNR on held-out images, and the spread of its
// latents, whose inverse is the scaling_factor that brings them to unit variance for the diffusion model.
import { noGrad, tensor, tidy } from '@sd/autograd';
import { purposeGenerator } from '../training/rng.ts';
import { imageBatch, imageBytes, type ImageSet } from './images.ts';
import type { AutoencoderKL } from './model.ts';

/**
 * PSNR in dB of one reconstruction against its original, both in [-1, 1] (any layout, the same in
 * both). The reconstruction is clamped to [-1, 1] as it would be when saved as an image, and the
 * error is taken on the [0, 1] scale (peak 1), the convention for 8-bit images.
 */
export function psnr(original: ArrayLike<number>, reconstruction: ArrayLike<number>): number {
  return -10 * Math.log10(unitScaleMse(original, reconstruction));
}

/** The mean squared error psnr is taken from: reconstruction clamped, both mapped to [0, 1]. */
function unitScaleMse(original: ArrayLike<number>, reconstruction: ArrayLike<number>): number {
  if (original.length !== reconstruction.length || original.length === 0) throw new Error(`psnr: sizes differ or are empty (${original.length} vs ${reconstruction.length})`);
  let sum = 0;
  for (let i = 0; i < original.length; i++) {
    const r = Math.min(1, Math.max(-1, reconstruction[i]));
    const d = (r - original[i]) / 2;
    sum += d * d;
  }
  return sum / original.length;
}

export interface ReconstructionMetrics {
  /** The mean over images of each image's PSNR (dB). */
  psnr: number;
  /** Mean squared error per pixel value on the [0, 1] scale, over all images. */
  mse: number;
  count: number;
}

/**
 * Mode reconstructions (deterministic) of `images`, batch by batch: `each` gets the batch's first
 * index, its originals and its reconstructions, both [B, 3, side, side] in [-1, 1].
 */
async function forEachReconstruction(vae: AutoencoderKL, images: ImageSet, batchSize: number, each: (first: number, original: Float32Array, reconstruction: Float32Array) => void): Promise<void> {
  for (let start = 0; start < images.count; start += batchSize) {
    const rows = Array.from({ length: Math.min(batchSize, images.count - start) }, (_, i) => start + i);
    const original = imageBatch(images, rows);
    const decoded = tidy(() => noGrad(() => vae.decode(vae.encode(tensor(original, [rows.length, 3, images.side, images.side])).mode())).keep());
    const reconstruction = (await decoded.read()) as Float32Array;
    decoded.dispose();
    each(start, original, reconstruction);
  }
}

/** Encodes each image to its posterior mode and decodes it; PSNR against the original. */
export async function evaluateReconstruction(vae: AutoencoderKL, images: ImageSet, options: { batchSize?: number } = {}): Promise<ReconstructionMetrics> {
  const perImage = 3 * images.side * images.side;
  let psnrSum = 0;
  let squaredError = 0;
  await forEachReconstruction(vae, images, options.batchSize ?? 16, (_, original, reconstruction) => {
    for (let b = 0; b < original.length / perImage; b++) {
      const mse = unitScaleMse(original.subarray(b * perImage, (b + 1) * perImage), reconstruction.subarray(b * perImage, (b + 1) * perImage));
      psnrSum += -10 * Math.log10(mse);
      squaredError += mse * perImage;
    }
  });
  return { psnr: psnrSum / images.count, mse: squaredError / (images.count * perImage), count: images.count };
}

/** The mode reconstructions as 8-bit images (what saving them as PNGs would keep). */
export async function reconstructImages(vae: AutoencoderKL, images: ImageSet, options: { batchSize?: number } = {}): Promise<ImageSet> {
  const pixels = new Uint8Array(images.pixels.length);
  const bytesPerImage = 3 * images.side * images.side;
  await forEachReconstruction(vae, images, options.batchSize ?? 16, (first, _, reconstruction) => {
    pixels.set(imageBytes(reconstruction, reconstruction.length / bytesPerImage, images.side), first * bytesPerImage);
  });
  return { ...images, pixels, source: `reconstructions of ${images.source}` };
}

export interface ScalingMeasurement {
  /** 1 / std: what the latents are multiplied by before the diffusion model sees them. */
  scalingFactor: number;
  std: number;
  mean: number;
  /** Latent values the statistics are over (images × latent channels × h × w). */
  values: number;
  images: number;
  /** Which latents: posterior samples, as SD's first stage measured its 0.18215 (LDM scale_by_std). */
  latent: 'sample';
}

/**
 * The standard deviation of the training latents over all their values (about their overall mean,
 * unbiased like torch.std, as LDM's scale_by_std), from posterior samples drawn from the run's
 * "vae/scale" stream in image order, so the measurement does not depend on the batch size.
 * Accumulated in float64, batch by batch (Chan et al.'s merge of means and squared deviations).
 */
export async function measureScalingFactor(vae: AutoencoderKL, images: ImageSet, options: { seed: number; batchSize?: number }): Promise<ScalingMeasurement> {
  const batchSize = options.batchSize ?? 16;
  const generator = purposeGenerator(options.seed, 'vae/scale');
  let n = 0;
  let mean = 0;
  let m2 = 0;
  for (let start = 0; start < images.count; start += batchSize) {
    const rows = Array.from({ length: Math.min(batchSize, images.count - start) }, (_, i) => start + i);
    const latents = tidy(() => noGrad(() => vae.encode(tensor(imageBatch(images, rows), [rows.length, 3, images.side, images.side])).sample(generator)).keep());
    const values = await latents.read();
    latents.dispose();
    let batchMean = 0;
    for (const v of values) batchMean += v;
    batchMean /= values.length;
    let batchM2 = 0;
    for (const v of values) batchM2 += (v - batchMean) ** 2;
    const total = n + values.length;
    const delta = batchMean - mean;
    m2 += batchM2 + (delta * delta * n * values.length) / total;
    mean += (delta * values.length) / total;
    n = total;
  }
  const std = Math.sqrt(m2 / (n - 1));
  return { scalingFactor: 1 / std, std, mean, values: n, images: images.count, latent: 'sample' };
}
