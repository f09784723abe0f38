// A whole diffusers pipeline folder (model_index.json, unet/, vae/, scheduler/): each component
// loads from the root, and SD's PNDMScheduler config drives the schedulers implemented here.
import { afterAll, expect, it } from 'vitest';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoencoderKL } from '../../packages/models/src/vae/model.ts';
import { UNet2DConditionModel } from '../../packages/models/src/unet/model.ts';
import { loadScheduler } from '../../packages/models/src/diffusion/load.ts';
import { EulerDiscreteScheduler } from '../../packages/models/src/diffusion/euler.ts';
import { DDIMScheduler } from '../../packages/models/src/diffusion/ddim.ts';
import { disposeModule } from '../../packages/models/src/clip/weights.ts';
import { SD2_BASE_SCHEDULER_CONFIG } from '../util/sd2-base.ts';
import { GOLDEN } from '../util/decoder-golden.ts';

const root = mkdtempSync(join(tmpdir(), 'pipeline-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

cpSync(join(GOLDEN, 'unet-sd2-tiny'), join(root, 'unet'), { recursive: true });
cpSync(join(GOLDEN, 'vae-tiny'), join(root, 'vae'), { recursive: true });
mkdirSync(join(root, 'scheduler'));
writeFileSync(join(root, 'scheduler', 'scheduler_config.json'), SD2_BASE_SCHEDULER_CONFIG);
writeFileSync(
  join(root, 'model_index.json'),
  JSON.stringify({ _class_name: 'StableDiffusionPipeline', _diffusers_version: '0.8.0', unet: ['diffusers', 'UNet2DConditionModel'], vae: ['diffusers', 'AutoencoderKL'], scheduler: ['diffusers', 'PNDMScheduler'], text_encoder: ['transformers', 'CLIPTextModel'], requires_safety_checker: false }),
);

it('the UNet and the VAE load from the pipeline root', () => {
  const unet = UNet2DConditionModel.fromPretrained(root);
  const vae = AutoencoderKL.fromPretrained(root);
  expect(unet.loadResult).toEqual({ missing: [], unexpected: [], mismatched: [] });
  expect(vae.loadResult).toEqual({ missing: [], unexpected: [], mismatched: [] });
  expect(unet.config.block_out_channels).toEqual([32, 64]);
  disposeModule(unet);
  disposeModule(vae);
});

it('SD’s PNDMScheduler config is refused by name, and drives Euler or DDIM when asked', () => {
  expect(() => loadScheduler(root)).toThrow(/scheduler_config\.json: scheduler "PNDMScheduler" is not implemented.*\{ as \}/);
  const warnings: string[] = [];
  const euler = loadScheduler(root, { as: 'euler', warn: (w) => warnings.push(w) });
  expect(euler).toBeInstanceOf(EulerDiscreteScheduler);
  expect(warnings.some((w) => w.includes('skip_prk_steps'))).toBe(true);
  const ddim = loadScheduler(join(root, 'scheduler', 'scheduler_config.json'), { as: 'DDIMScheduler' });
  expect(ddim).toBeInstanceOf(DDIMScheduler);
  ddim.setTimesteps(50);
  // SD2-base with DDIM: leading spacing, offset 1 → 981, 961, …, 1.
  expect(ddim.timesteps).toEqual(Array.from({ length: 50 }, (_, i) => 981 - 20 * i));
});

it('a folder without a scheduler config is named', () => {
  expect(() => loadScheduler(join(root, 'unet'))).toThrow(/unet: no scheduler_config\.json/);
});
