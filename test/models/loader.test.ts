// Loading through a FileLoader (what a page does with fetchLoader) gives the same models as the
// path-taking loaders Node uses: the committed default CLIP, prior, decoder and VAE, read with
// fileLoader over packages/models/assets/, hold the same weights. Missing or wrong files are errors
// that name them.
import { afterAll, describe, expect, it } from 'vitest';
import type { nn, Tensor } from '@sd/autograd';
import { fileLoader } from '@sd/io';
import {
  AutoencoderKL, UNet2DConditionModel, assetsDir, defaultClipPath, defaultDecoderDir, defaultPriorPath, defaultVaeDir, disposeModule, loadExportedClip,
  loadExportedClipFrom, loadPrior, loadPriorFrom, TextToImagePipeline,
} from '@sd/models';

const loader = fileLoader(assetsDir());
const models: nn.Module[] = [];
afterAll(() => models.forEach(disposeModule));

/** Both models hold the same tensors under the same names, bit for bit. */
async function expectSameState(a: nn.Module, b: nn.Module, what: string): Promise<void> {
  models.push(a, b);
  const sa = a.stateDict();
  const sb = b.stateDict();
  expect([...sa.keys()], what).toEqual([...sb.keys()]);
  for (const [name, t] of sa) {
    const u = sb.get(name) as Tensor;
    expect(u.shape, `${what} ${name}`).toEqual(t.shape);
    expect(Buffer.from((await u.read()).buffer).equals(Buffer.from((await t.read()).buffer)), `${what} ${name}`).toBe(true);
  }
}

describe('fromLoader = fromPretrained on the committed defaults', () => {
  it('VAE and decoder UNet (diffusers folders)', async () => {
    await expectSameState(await AutoencoderKL.fromLoader(loader, 'default-vae'), AutoencoderKL.fromPretrained(defaultVaeDir()), 'vae');
    await expectSameState(await UNet2DConditionModel.fromLoader(loader, 'default-decoder/'), UNet2DConditionModel.fromPretrained(defaultDecoderDir()), 'decoder');
  });

  it('CLIP (exportClip file) and prior (checkpoint)', async () => {
    await expectSameState(await loadExportedClipFrom(loader, 'default-clip.safetensors'), loadExportedClip(defaultClipPath()), 'clip');
    const [a, b] = [await loadPriorFrom(loader, 'default-prior/shifted.safetensors'), loadPrior(defaultPriorPath('shifted'))];
    expect(a.diffusion.stats).toEqual(b.diffusion.stats);
    await expectSameState(a.model, b.model, 'prior');
  });

  it('the whole pipeline loads', async () => {
    const pipeline = await TextToImagePipeline.fromLoader(loader, { clip: 'default-clip.safetensors', prior: 'none', decoder: 'default-decoder', vae: 'default-vae' });
    expect(pipeline.parts.prior).toBeNull();
    pipeline.dispose();
  });
});

describe('fromLoader errors name the file', () => {
  it('a missing folder, a folder of the wrong class, a file of the wrong kind', async () => {
    await expect(AutoencoderKL.fromLoader(loader, 'no-such-vae')).rejects.toThrow(`no-such-vae/config.json: cannot read (ENOENT`);
    await expect(AutoencoderKL.fromLoader(loader, 'default-decoder')).rejects.toThrow(`default-decoder/config.json says _class_name 'UNet2DConditionModelEmb', expected AutoencoderKL`);
    await expect(loadExportedClipFrom(loader, 'default-prior/shifted.safetensors')).rejects.toThrow('default-prior/shifted.safetensors: not a CLIP written by exportClip');
    await expect(loadPriorFrom(loader, 'default-decoder')).rejects.toThrow('default-decoder/checkpoint.safetensors: cannot read (ENOENT');
    await expect(TextToImagePipeline.fromLoader(loader, { clip: 'default-clip.safetensors', prior: 'none', decoder: 'default-vae', vae: 'default-vae' })).rejects.toThrow(
      "default-vae/config.json says _class_name 'AutoencoderKL', expected one of UNet2DConditionModel, UNet2DConditionModelEmb",
    );
  });
});
