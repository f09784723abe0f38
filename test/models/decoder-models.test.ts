// The decoder models against diffusers itself: golden outputs of diffusers 0.15's own UNet and VAE
// code (../shared/data/decoder-golden), the full SD2-base state-dict names and shapes, save/load
// round trips, and the errors bad input must give.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rt } from '@sd/kernels';
import { Generator, nn, noGrad, randn, tensor } from '@sd/autograd';
import { readSafetensors } from '@sd/io';
import { AutoencoderKL, DiagonalGaussian, vaeStateDictNames } from '../../packages/models/src/vae/model.ts';
import { SD2_BASE_VAE_CONFIG } from '../../packages/models/src/vae/config.ts';
import { UNet2DConditionModel, UNet2DConditionModelEmb } from '../../packages/models/src/unet/model.ts';
import { SD2_BASE_UNET_CONFIG } from '../../packages/models/src/unet/config.ts';
import { writeDiffusersFolder } from '../../packages/models/src/io/diffusers.ts';
import { disposeModule } from '../../packages/models/src/clip/weights.ts';
import { GOLDEN, goldenError, goldens, goldenUNetOutput } from '../util/decoder-golden.ts';

const scratch = mkdtempSync(join(tmpdir(), 'decoder-models-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Builds a full-size model without drawing its weights, lists its state dict, frees it. */
function stateDictListing(build: () => nn.Module): string[] {
  // Nothing reads these buffers, so the suite's poisoning of fresh allocations (gigabytes of fills
  // here) is switched off while they exist.
  const poison = rt().poisonAllocations;
  rt().poisonAllocations = false;
  const model = nn.init.withoutInit(build);
  rt().poisonAllocations = poison;
  const listing = [...model.stateDict()].map(([name, t]) => `${name} [${t.shape.join(', ')}]`);
  disposeModule(model);
  // Gigabytes of never-written buffers would otherwise sit in the pool and slow every later allocation.
  rt().trimPool();
  return listing;
}

/** Bit-for-bit equality (vitest's toEqual walks typed arrays element by element: far too slow here). */
const sameBits = (a: ArrayBufferView, b: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** The criterion: max |got − want| ≤ 1e-4 · max |want|. */
function expectGolden(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length, what).toBe(want.length);
  const { err, scale } = goldenError(got, want);
  expect(scale, `${what}: golden is not all zeros`).toBeGreaterThan(0.1);
  expect(err / scale, `${what}: max error ${err} vs max magnitude ${scale}`).toBeLessThanOrEqual(1e-4);
}

describe('UNet2DConditionModel against diffusers', () => {
  it.each(['unet-sd2-tiny', 'unet-sd1-tiny', 'unet-emb-tiny'])('%s: loads the folder as it is and reproduces diffusers’ output', async (folder) => {
    const model = UNet2DConditionModel.fromPretrained(join(GOLDEN, folder));
    expect(model instanceof UNet2DConditionModelEmb).toBe(folder === 'unet-emb-tiny');
    expect(model.warnings).toEqual([]);
    expectGolden(await goldenUNetOutput(model, folder), goldens(folder).host('output'), folder);
    disposeModule(model);
  });

  it('the SD2-base config builds exactly the SD2-base state-dict names and shapes, in order', () => {
    const expected = readFileSync(join(GOLDEN, 'sd2-base-unet.keys.txt'), 'utf8').trim().split('\n');
    const got = stateDictListing(() => new UNet2DConditionModel(SD2_BASE_UNET_CONFIG));
    expect(got).toEqual(expected);
    expect(got.length).toBe(686);
  });

  it('save → load round-trips weights and config, and the reload computes the same output', async () => {
    const original = UNet2DConditionModel.fromPretrained(join(GOLDEN, 'unet-emb-tiny'));
    const dir = join(scratch, 'saved-unet');
    await original.savePretrained(dir);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(config._class_name).toBe('UNet2DConditionModelEmb');
    expect(config.proj_n).toBe(4);
    const reloaded = UNet2DConditionModel.fromPretrained(dir);
    const reloadedState = reloaded.stateDict();
    for (const [name, t] of original.stateDict()) expect(sameBits(await reloadedState.get(name)!.read(), await t.read()), name).toBe(true);
    expect(sameBits(await goldenUNetOutput(reloaded, 'unet-emb-tiny'), await goldenUNetOutput(original, 'unet-emb-tiny'))).toBe(true);
    disposeModule(original);
    disposeModule(reloaded);
  });
});

describe('AutoencoderKL against diffusers', () => {
  const g = goldens('vae-tiny');

  async function checkVae(vae: AutoencoderKL): Promise<void> {
    await noGrad(async () => {
      const posterior = vae.encode(g.tensor('image'));
      expectGolden(await posterior.mean.read(), g.host('posterior_mean'), 'posterior mean');
      expectGolden(await posterior.logvar.read(), g.host('posterior_logvar'), 'posterior logvar');
      expectGolden(await vae.decode(g.tensor('latent')).read(), g.host('decoded'), 'decoded');
    });
  }

  it('encodes (posterior mean and log-variance) and decodes as diffusers does', async () => {
    const vae = AutoencoderKL.fromPretrained(join(GOLDEN, 'vae-tiny'));
    expect(vae.scalingFactor).toBe(0.18215);
    await checkVae(vae);
    disposeModule(vae);
  });

  it('loads the newer attention names (to_q/to_k/to_v/to_out.0) to the same model', async () => {
    const old = readSafetensors(join(GOLDEN, 'vae-tiny', 'diffusion_pytorch_model.safetensors')).tensors;
    const renamed = new Map([...old].map(([k, t]) => [k.replace('.query.', '.to_q.').replace('.key.', '.to_k.').replace('.value.', '.to_v.').replace('.proj_attn.', '.to_out.0.'), t]));
    expect([...renamed.keys()].filter((k) => k.includes('to_out.0')).length).toBe(4);
    const dir = join(scratch, 'vae-new-names');
    writeDiffusersFolder(dir, JSON.parse(readFileSync(join(GOLDEN, 'vae-tiny', 'config.json'), 'utf8')), renamed);
    const vae = AutoencoderKL.fromPretrained(dir);
    await checkVae(vae);
    disposeModule(vae);
  });

  it('maps 1×1-conv attention weights (original SD checkpoints) to matrices', () => {
    const state = new Map([['encoder.mid_block.attentions.0.to_q.weight', { shape: [8, 8, 1, 1], data: new Float32Array(64) }]]);
    const out = vaeStateDictNames(state);
    expect([...out.keys()]).toEqual(['encoder.mid_block.attentions.0.query.weight']);
    expect(out.get('encoder.mid_block.attentions.0.query.weight')!.shape).toEqual([8, 8]);
  });

  it('samples the posterior as mean + exp(logvar/2)·ε, clamps logvar to [−30, 20]', async () => {
    const vae = AutoencoderKL.fromPretrained(join(GOLDEN, 'vae-tiny'));
    await noGrad(async () => {
      const posterior = vae.encode(g.tensor('image'));
      const z = await posterior.sample(new Generator(7)).read();
      const eps = await randn(posterior.mean.shape, { generator: new Generator(7) }).read();
      const mean = g.host('posterior_mean');
      const logvar = g.host('posterior_logvar');
      expectGolden(z, mean.map((m, i) => m + Math.exp(logvar[i] / 2) * eps[i]), 'posterior sample');
      const clamped = new DiagonalGaussian(tensor([0, 0, 100, -100], [1, 4, 1, 1]));
      expect(await clamped.logvar.read()).toEqual(new Float32Array([20, -30]));
    });
    disposeModule(vae);
  });

  it('the SD2-base config builds exactly the SD2-base VAE state-dict names and shapes, in order', () => {
    const expected = readFileSync(join(GOLDEN, 'sd2-base-vae.keys.txt'), 'utf8').trim().split('\n');
    const got = stateDictListing(() => new AutoencoderKL(SD2_BASE_VAE_CONFIG));
    expect(got).toEqual(expected);
  });
});
