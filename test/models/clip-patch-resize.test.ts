// Moving a ViT CLIP to a finer input with the same token grid (resizeVitInput): the resized model on
// an image must equal the original model on that image's box-downsampled copy.
import { describe, expect, it } from 'vitest';
import { manualSeed, noGrad, tensor, tidy, type nn } from '@sd/autograd';
import { CLIP, CLIP_CONFIGS, disposeModule, resizeVitInput, upsamplePatchKernel, type ClipConfig } from '@sd/models';
import { expectClose } from '../util/close.ts';
import { makeRng, uniform } from '../util/random.ts';
import { refAvgPool } from '../util/ref/pool.ts';

const randomArray = (n: number, seed: number) => uniform(makeRng(seed), n, -0.5, 0.5);

async function hostState(model: nn.Module): Promise<Map<string, nn.HostTensor>> {
  const state = new Map<string, nn.HostTensor>();
  for (const [name, t] of model.stateDict()) state.set(name, { shape: [...t.shape], data: (await t.read()) as Float32Array });
  return state;
}

async function encodeImages(model: CLIP, pixels: Float32Array, batch: number): Promise<Float32Array> {
  const r = model.imageResolution;
  const out = tidy(() => noGrad(() => model.encodeImage(tensor(pixels, [batch, 3, r, r]))));
  const values = (await out.read()) as Float32Array;
  out.dispose();
  return values;
}

describe('resizeVitInput', () => {
  it('upsamplePatchKernel: the new kernel on a patch equals the old kernel on its box-downsampled copy', () => {
    const [o, c, p, f] = [3, 2, 3, 2];
    const kernel = { shape: [o, c, p, p], data: randomArray(o * c * p * p, 1) };
    const big = upsamplePatchKernel(kernel, f);
    expect(big.shape).toEqual([o, c, p * f, p * f]);
    const patch = randomArray(c * p * f * p * f, 2);
    const small = refAvgPool(patch, [1, c, p * f, p * f], f);
    for (let out = 0; out < o; out++) {
      let fine = 0;
      let coarse = 0;
      for (let i = 0; i < c * p * f * p * f; i++) fine += big.data[out * c * p * f * p * f + i] * patch[i];
      for (let i = 0; i < c * p * p; i++) coarse += kernel.data[out * c * p * p + i] * small[i];
      expect(fine).toBeCloseTo(coarse, 6);
    }
  });

  it('a tiny CLIP moved from 32 px / patch 8 to 64 px / patch 16 gives the same image features on 2× images', async () => {
    const config: ClipConfig = CLIP_CONFIGS['tiny-vit'];
    manualSeed(7);
    const original = noGrad(() => new CLIP(config));
    original.eval();
    const moved = resizeVitInput(config, await hostState(original), { imageResolution: 64, patchSize: 16 });
    expect(moved.config.vision).toMatchObject({ imageResolution: 64, patchSize: 16, width: 24 });
    const resized = noGrad(() => new CLIP(moved.config));
    resized.eval();
    resized.loadStateDict(moved.state, { source: 'resized' });
    try {
      const batch = 2;
      const fine = randomArray(batch * 3 * 64 * 64, 3);
      const expected = await encodeImages(original, Float32Array.from(refAvgPool(fine, [batch, 3, 64, 64], 2)), batch);
      const actual = await encodeImages(resized, fine, batch);
      expectClose(actual, expected, { rtol: 1e-4, atol: 1e-5 }, 'image features');
    } finally {
      disposeModule(original);
      disposeModule(resized);
    }
  });

  it('names what cannot be resized', () => {
    const vit = CLIP_CONFIGS['tiny-vit'];
    const state = new Map([['visual.conv1.weight', { shape: [24, 3, 8, 8], data: new Float32Array(24 * 3 * 64) }]]);
    expect(() => resizeVitInput(vit, state, { imageResolution: 64, patchSize: 8 })).toThrow(/32 px \/ patch 8 → 64 px \/ patch 8 changes the token grid/);
    expect(() => resizeVitInput(vit, state, { imageResolution: 48, patchSize: 12 })).toThrow(/whole multiple/);
    expect(() => resizeVitInput(vit, new Map(), { imageResolution: 64, patchSize: 16 })).toThrow(/no visual\.conv1\.weight/);
    expect(() => resizeVitInput(CLIP_CONFIGS['tiny-rn'], state, { imageResolution: 64, patchSize: 16 })).toThrow(/only ViT/);
    expect(() => upsamplePatchKernel({ shape: [2, 3, 4], data: new Float32Array(24) }, 2)).toThrow(/\[O, C, p, p\]/);
  });
});
