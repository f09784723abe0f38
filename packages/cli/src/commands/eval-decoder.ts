// `sd eval-decoder`: the decoder alone (issue 14's oracle arm). Decodes the true default-CLIP image
// embeddings of held-out single-object procedural images and reports the CLIP's zero-shot accuracy
// (marginal rule) on the generated images next to the real ones; writes the JSON and a grid.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { initRuntime } from '@sd/kernels';
import {
  AutoencoderKL, DEFAULT_DATA_SEED, UNet2DConditionModel, asDecoderUnet, ZERO_SHOT_ATTRIBUTES, decoderOracleZeroShot, defaultClipPath,
  HEAD_NAMES, encodeRgbPng, imageGrid, judgeAssetPath, judgeImageSet, loadExportedClip, loadJudge, oracleImages, readDecoderSchedulerConfig, subsetImages, type JudgeAccuracy, type OracleZeroShot,
} from '@sd/models';
import { existsSync } from 'node:fs';
import { parseEvalDecoder, type EvalDecoderCli } from '../options.ts';
import { resolveDecoder, resolveVae } from '../parts.ts';

export async function evalDecoderCommand(o: EvalDecoderCli): Promise<OracleZeroShot> {
  const { n, steps, guidance, seed, batchSize } = parseEvalDecoder(o);
  const decoder = resolveDecoder('sd eval-decoder', o.decoder);
  const vaeSource = resolveVae('sd eval-decoder', o.vae);
  const clipPath = o.clip ?? defaultClipPath();
  await initRuntime();
  const unet = asDecoderUnet(UNet2DConditionModel.fromPretrained(decoder.path), decoder.path);
  const vae = AutoencoderKL.fromPretrained(vaeSource.path).eval();
  const clip = loadExportedClip(clipPath);
  console.log(`decoder ${decoder.path} (${decoder.from}), VAE ${vaeSource.path} (${vaeSource.from}), CLIP ${clipPath}; ${n} held-out images (batches of ${batchSize}), ${steps} DDIM steps, guidance ${guidance}, seed ${seed}`);
  const t0 = performance.now();
  const result = await decoderOracleZeroShot(unet, vae, clip, {
    count: n, dataSeed: DEFAULT_DATA_SEED, steps, guidance, seed, batchSize, schedulerConfig: readDecoderSchedulerConfig(decoder.path),
    onProgress: (done, total) => console.log(`decoded ${done}/${total} (${((performance.now() - t0) / 1000).toFixed(0)} s)`),
  });
  const seconds = (performance.now() - t0) / 1000;
  const { images, originals, ...summary } = result;
  // The committed judge reads the same images against the scenes they show (64×64 only).
  let judge: { real: JudgeAccuracy; generated: JudgeAccuracy } | null = null;
  if (originals.side === 64 && existsSync(judgeAssetPath())) {
    const reader = loadJudge();
    const { attributes } = oracleImages(n, DEFAULT_DATA_SEED, originals.side);
    judge = { real: await judgeImageSet(reader, originals, attributes), generated: await judgeImageSet(reader, images, attributes) };
    for (const p of reader.parameters()) p.dispose();
  }
  const report = { ...summary, judge, decoder: decoder.path, vae: vaeSource.path, clip: clipPath, seconds };
  mkdirSync(dirname(o.out), { recursive: true });
  writeFileSync(o.out, JSON.stringify(report, null, 2));
  const columns = Math.min(8, n);
  const grid = o.out.replace(/\.json$/, '') + '.png';
  writeFileSync(grid, encodeRgbPng(imageGrid([subsetImages(originals, 0, columns), subsetImages(images, 0, columns)], columns)));
  console.log(formatOracle(result));
  if (judge) {
    const row = (name: string, a: JudgeAccuracy) => `| ${name} | ${HEAD_NAMES.map((h) => `${(100 * a.perHead[h]).toFixed(1)}%`).join(' | ')} | ${(100 * a.allCorrect).toFixed(1)}% |`;
    console.log([`the committed judge on the same images:`, `| images | ${HEAD_NAMES.join(' | ')} | all heads |`, `| --- |${' --- |'.repeat(HEAD_NAMES.length + 1)}`, row('real', judge.real), row('decoded', judge.generated)].join('\n'));
  }
  console.log(`${seconds.toFixed(0)} s; wrote ${o.out} and ${grid} (real images above the images decoded from their embeddings)`);
  return result;
}

/** The default CLIP's accuracy on the real images and on the images decoded from their embeddings. */
export function formatOracle(r: OracleZeroShot): string {
  const row = (name: string, a: Record<string, number>) => `| ${name} | ${ZERO_SHOT_ATTRIBUTES.map((k) => `${(100 * a[k]).toFixed(1)}%`).join(' | ')} |`;
  return [
    `default CLIP zero-shot accuracy (marginal rule), ${r.count} held-out single-object images:`,
    `| images | ${ZERO_SHOT_ATTRIBUTES.join(' | ')} |`,
    `| --- |${' --- |'.repeat(ZERO_SHOT_ATTRIBUTES.length)}`,
    row('real', r.real),
    row(`decoded from their embeddings (${r.steps} DDIM steps, guidance ${r.guidance})`, r.generated),
  ].join('\n');
}
