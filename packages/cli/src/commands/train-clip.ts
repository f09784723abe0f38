// `sd train-clip` (`pnpm train:clip`): train the small default CLIP on the procedural captioned
// images, evaluate zero-shot accuracy and retrieval, and export it (F16) as the default model.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initRuntime } from '@sd/kernels';
import { checkpointGroups, manualSeed, type nn } from '@sd/autograd';
import { readSafetensors } from '@sd/io';
import { CLIP, DEFAULT_CLIP_CONFIG, type ClipConfig, type ClipViTConfig, type ZeroShotAttribute, DEFAULT_DATA_SEED, defaultClipPath, evaluateClip, exportedClipWeights, isExportedClip, exportClip, resizeVitInput, trainClip } from '@sd/models';
import { progressBar } from '../progress.ts';
import { formatClipEvaluation } from './eval-clip.ts';
import { parseTrainClip, type TrainClipCli } from '../options.ts';

export async function trainClipCommand(o: TrainClipCli): Promise<void> {
  const parsed = parseTrainClip(o);
  await initRuntime();
  const steps = parsed.steps;
  const settings = {
    steps,
    batchSize: parsed.batchSize,
    lr: parsed.lr,
    weightDecay: 0.1,
    warmupSteps: Math.min(200, Math.floor(steps / 10)),
    seed: parsed.seed,
    dataSeed: DEFAULT_DATA_SEED,
    logEvery: 10,
    checkpointEvery: 100,
    contrastFraction: parsed.contrast,
    contrastGroupSize: parsed.groupSize,
  };
  const contrastAttributes = o.contrastOn.split(',').map((a) => a.trim()) as ZeroShotAttribute[];
  const init = o.init ? initialWeights(o.init, parsed) : null;
  const config = init?.config ?? vitConfig(parsed, DEFAULT_CLIP_CONFIG);
  manualSeed(settings.seed);
  const model = new CLIP(config);
  if (init) model.loadStateDict(init.state, { source: o.init });
  const vision = config.vision;
  const geometry = vision.kind === 'vit' ? ` --resolution ${vision.imageResolution} --patch-size ${vision.patchSize}` : '';
  console.log(`CLIP: ${(model.numParameters() / 1e6).toFixed(2)} M parameters, ${vision.kind === 'vit' ? `ViT ${vision.imageResolution} px / patch ${vision.patchSize}` : `ResNet ${vision.imageResolution} px`}, context ${config.text.contextLength}${init ? `, from ${o.init}` : ''}`);
  mkdirSync(o.out, { recursive: true });
  const bar = progressBar('clip', steps);
  await trainClip(model, { ...settings, contrastAttributes }, { outDir: o.out, resume: o.resume, config, onStep: (r) => bar.update(r.step, r) });
  bar.stop();
  const evaluation = await evaluateClip(model, { dataSeed: DEFAULT_DATA_SEED, zeroShotCount: parsed.evalCount, retrievalCount: 1000 });
  writeFileSync(join(o.out, 'eval.json'), JSON.stringify(evaluation, null, 2));
  console.log(formatClipEvaluation(evaluation));
  if (o.export) {
    const path = typeof o.export === 'string' ? o.export : defaultClipPath();
    await exportClip(model, path, { eval: JSON.stringify(evaluation), command: `pnpm train:clip --steps ${steps} --batch-size ${settings.batchSize} --lr ${settings.lr} --seed ${settings.seed}${geometry} --contrast ${settings.contrastFraction} --group-size ${settings.contrastGroupSize} --contrast-on ${contrastAttributes.join(',')}${o.init ? ` --init ${o.init}` : ''}` });
    console.log(`exported ${path}`);
  }
}

interface Geometry {
  resolution?: number;
  patchSize?: number;
}

/** A CLIP config with the ViT geometry the options ask for. */
function vitConfig({ resolution, patchSize }: Geometry, config: ClipConfig): ClipConfig {
  const base = config.vision;
  if (base.kind !== 'vit') throw new Error('train-clip: --resolution/--patch-size need a ViT image encoder');
  const vision = { ...base, imageResolution: resolution ?? base.imageResolution, patchSize: patchSize ?? base.patchSize };
  if (vision.imageResolution % vision.patchSize !== 0) {
    throw new Error(`train-clip: --resolution ${vision.imageResolution} must be a multiple of --patch-size ${vision.patchSize}`);
  }
  return { ...config, vision };
}

/**
 * Weights and config of --init; with --resolution/--patch-size, moved to that input size (same token
 * grid, patch kernel upsampled; see resizeVitInput).
 */
function initialWeights(path: string, geometry: Geometry): { config: ClipConfig; state: Map<string, nn.HostTensor> } {
  const init = readInitialWeights(path);
  if (geometry.resolution === undefined && geometry.patchSize === undefined) return init;
  const target = vitConfig(geometry, init.config).vision as ClipViTConfig;
  return resizeVitInput(init.config, init.state, target);
}

/** Weights and config from a train-clip checkpoint (group "model") or an exported CLIP. */
function readInitialWeights(path: string): { config: ClipConfig; state: Map<string, nn.HostTensor> } {
  if (!existsSync(path)) throw new Error(`train-clip: --init ${path} does not exist`);
  const file = readSafetensors(path);
  const configJson = file.metadata.config;
  if (!configJson || configJson === 'null') throw new Error(`train-clip: --init ${path} has no CLIP config in its metadata (not written by train-clip)`);
  const state = isExportedClip(file) ? exportedClipWeights(file).state : checkpointGroups(file, path).model;
  if (!state) throw new Error(`train-clip: --init ${path} has no "model" group (not a train-clip checkpoint)`);
  return { config: JSON.parse(configJson) as ClipConfig, state };
}
