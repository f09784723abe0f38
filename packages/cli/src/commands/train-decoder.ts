// `sd train-decoder` (`pnpm train:decoder`): train the language-free decoder UNet on a trained VAE's
// latents, conditioned on the CLIP image embedding of each image (captions are never read).
import { join } from 'node:path';
import { initRuntime } from '@sd/kernels';
import { AutoencoderKL, DECODER_FINAL_DIR, PROCEDURAL_DECODER_UNET_CONFIG, assertFreshRunDir, checkDecoderInputs, embeddingDim, openClips, trainDecoder } from '@sd/models';
import { parseTrainDecoder, type TrainDecoderCli } from '../options.ts';
import { progressBar, type Progress } from '../progress.ts';
import { clipNormalizeOption, clipSources, resolveVae } from '../parts.ts';
import { loadTrainingImages } from './train-vae.ts';

export async function trainDecoderCommand(o: TrainDecoderCli): Promise<void> {
  const { settings, holdout } = parseTrainDecoder(o);
  // --vae, else runs/vae/final (what `pnpm train:vae` writes), else the committed default VAE.
  const vaeSource = resolveVae('sd train-decoder', o.vae);
  const vaeDir = vaeSource.path;
  const normalize = clipNormalizeOption('sd train-decoder', o.clipNormalize);
  const clipSource = clipSources(o.clip ?? [], normalize);
  // Refused before any model or image is read.
  if (!o.resume) assertFreshRunDir(o.out);
  await initRuntime();
  const vae = AutoencoderKL.fromPretrained(vaeDir);
  vae.eval();
  const clip = openClips(clipSource.paths, { normalize });
  // The embedding is projected to the context tokens by emb_proj_layers, whose input is the CLIP's
  // (or the MultiCLIP's concatenated) embedding: the UNet takes that width.
  const model = { ...PROCEDURAL_DECODER_UNET_CONFIG, input_dim: embeddingDim(clip) };
  const side = vae.config.sample_size as number;
  // The dimensions are checked before the images are read or generated (seconds to minutes).
  checkDecoderInputs(model, { model: vae, label: vaeDir }, { model: clip, label: clipSource.label }, side);
  const { train, heldOut } = await loadTrainingImages(o.data, holdout, side);
  console.log(`data: ${train.count} training images, ${heldOut.count} held out (${train.source}); VAE ${vaeDir} (scaling_factor ${vae.scalingFactor}), CLIP ${clipSource.label} (${embeddingDim(clip)}-d)`);
  // Started at the first report, so a resumed run's bar starts at its checkpoint's step.
  const progress: { bar?: Progress } = {};
  const result = await trainDecoder({ train, heldOut, vae, clip, vaeSource: vaeDir, clipSource: clipSource.label }, model, settings, {
    outDir: o.out,
    resume: o.resume,
    record: o.record,
    onMessage: (m) => console.log(m),
    onStep: (r) => (progress.bar ??= progressBar('decoder', settings.steps, r.step)).update(r.step, r),
  });
  progress.bar?.stop();
  console.log(`step ${result.step}, last logged loss ${result.lastLoss.toFixed(5)}`);
  const final = result.step >= settings.steps ? ` and the EMA weights as a diffusers folder ${join(o.out, DECODER_FINAL_DIR)}/` : '';
  console.log(`wrote ${o.out}/ (config.json, checkpoint.safetensors, latents.safetensors, metrics.jsonl, loss.png, samples/)${final}`);
}
