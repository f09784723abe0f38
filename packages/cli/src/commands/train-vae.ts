// `sd train-vae` (`pnpm train:vae`): train the VAE (the decoder's first stage) on 64×64 images,
// measure its scaling_factor, and report reconstruction PSNR on held-out images.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initRuntime } from '@sd/kernels';
import {
  DEFAULT_DATA_SEED, PROCEDURAL_VAE_CONFIG, VAE_FINAL_DIR, ZERO_SHOT_ATTRIBUTES, assertFreshRunDir, evaluateReconstruction, imageFolderImages,
  encodeRgbPng, imageGrid, loadDefaultClip, proceduralImages, reconstructImages, reconstructionZeroShot, subsetImages, writeLossPlot, trainVae, type ImageSet, type ReconstructionZeroShot,
} from '@sd/models';
import { parseTrainVae, type TrainVaeCli } from '../options.ts';
import { progressBar } from '../progress.ts';

/** Procedural images the default run trains on, and the held-out ones (unseen shape–colour pairs) it is scored on. */
export const PROCEDURAL_TRAIN_IMAGES = 4096;
export const PROCEDURAL_HELDOUT_IMAGES = 256;

/** Training and held-out images: the procedural default, or a folder with its last `holdout` images (default 10%) held out (train-decoder reads the same). */
export async function loadTrainingImages(data: string | undefined, holdout: number | undefined, side: number): Promise<{ train: ImageSet; heldOut: ImageSet }> {
  if (!data) {
    return {
      train: proceduralImages(PROCEDURAL_TRAIN_IMAGES, { seed: DEFAULT_DATA_SEED, split: 'train' }),
      heldOut: proceduralImages(PROCEDURAL_HELDOUT_IMAGES, { seed: DEFAULT_DATA_SEED, split: 'heldout' }),
    };
  }
  const all = await imageFolderImages(data, side);
  const n = holdout ?? Math.max(1, Math.round(all.count * 0.1));
  if (n >= all.count) throw new Error(`--holdout ${n} leaves no training images (${data} has ${all.count})`);
  return { train: subsetImages(all, 0, all.count - n), heldOut: subsetImages(all, all.count - n, all.count) };
}

export async function trainVaeCommand(o: TrainVaeCli): Promise<void> {
  const { settings, holdout, zeroShotCount, widths, normGroups } = parseTrainVae(o);
  // Refused before the images are read or made, not after.
  if (!o.resume) assertFreshRunDir(o.out);
  await initRuntime();
  const model: Record<string, unknown> = { ...PROCEDURAL_VAE_CONFIG, block_out_channels: widths, norm_num_groups: normGroups };
  const { train, heldOut } = await loadTrainingImages(o.data, holdout, model.sample_size as number);
  console.log(`data: ${train.count} training images, ${heldOut.count} held out (${train.source})`);
  const bar = progressBar('vae', settings.steps);
  const result = await trainVae(train, model, settings, { outDir: o.out, resume: o.resume, onStep: (r) => bar.update(r.step, r) });
  bar.stop();
  writeLossPlot(o.out, 'vae');
  const reconstruction = await evaluateReconstruction(result.vae, heldOut);
  const shown = subsetImages(heldOut, 0, Math.min(8, heldOut.count));
  writeFileSync(join(o.out, 'reconstructions.png'), encodeRgbPng(imageGrid([shown, await reconstructImages(result.vae, shown)], shown.count)));
  // Attributes are known only for the procedural images.
  const zeroShot = zeroShotCount > 0 && !o.data ? await reconstructionZeroShot(result.vae, loadDefaultClip(), { count: zeroShotCount, dataSeed: DEFAULT_DATA_SEED }) : null;
  writeFileSync(join(o.out, 'eval.json'), JSON.stringify({ heldOut: heldOut.source, reconstruction, scaling: result.scaling, zeroShot }, null, 2));
  console.log(`held-out reconstruction: PSNR ${reconstruction.psnr.toFixed(2)} dB over ${reconstruction.count} images (posterior mode)`);
  if (zeroShot) console.log(formatZeroShot(zeroShot));
  console.log(`scaling_factor ${result.scaling!.scalingFactor.toPrecision(6)} (1/std of ${result.scaling!.images} training images' sampled latents)`);
  console.log(`wrote ${o.out}/ (config.json, checkpoint.safetensors, metrics.jsonl, loss.png, eval.json, scaling.json, reconstructions.png) and the diffusers folder ${join(o.out, VAE_FINAL_DIR)}/`);
}

/** The default CLIP's accuracy on the originals and on their reconstructions, one row each. */
export function formatZeroShot(z: ReconstructionZeroShot): string {
  const row = (name: string, a: Record<string, number>) => `| ${name} | ${ZERO_SHOT_ATTRIBUTES.map((k) => `${(100 * a[k]).toFixed(1)}%`).join(' | ')} |`;
  return [
    `default CLIP zero-shot accuracy (marginal rule), ${z.count} held-out single-object images:`,
    `| images | ${ZERO_SHOT_ATTRIBUTES.join(' | ')} |`,
    `| --- |${' --- |'.repeat(ZERO_SHOT_ATTRIBUTES.length)}`,
    row('originals', z.original),
    row('reconstructions', z.reconstruction),
  ].join('\n');
}
