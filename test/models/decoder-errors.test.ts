// Bad input to the decoder models: each a clear error naming the file, key, tensor or shape.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad, zeros } from '@sd/autograd';
import { UNet2DConditionModel, UNet2DConditionModelEmb, unetFromConfig } from '../../packages/models/src/unet/model.ts';
import { AutoencoderKL } from '../../packages/models/src/vae/model.ts';
import { disposeModule } from '../../packages/models/src/clip/weights.ts';
import { GOLDEN } from '../util/decoder-golden.ts';

const scratch = mkdtempSync(join(tmpdir(), 'decoder-errors-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const configOf = (folder: string): Record<string, unknown> => JSON.parse(readFileSync(join(GOLDEN, folder, 'config.json'), 'utf8'));
const tiny = configOf('unet-sd2-tiny');

function copyFolder(folder: string, name: string): string {
  const dir = join(scratch, name);
  cpSync(join(GOLDEN, folder), dir, { recursive: true });
  return dir;
}

describe('UNet config', () => {
  it.each([
    ['layers_per_block', 'two', /"layers_per_block" is "two", expected int/],
    ['down_block_types', ['SimpleCrossAttnDownBlock2D', 'CrossAttnDownBlock2D'], /"down_block_types": \["SimpleCrossAttnDownBlock2D","CrossAttnDownBlock2D"\] is not supported \(each entry must be "CrossAttnDownBlock2D" or "DownBlock2D"\)/],
    ['class_embed_type', 'timestep', /"class_embed_type": "timestep" is not supported/],
    ['resnet_time_scale_shift', 'scale_shift', /"resnet_time_scale_shift": "scale_shift" is not supported/],
    ['dual_cross_attention', true, /"dual_cross_attention": true is not supported/],
    ['mid_block_type', 'UNetMidBlock2DSimpleCrossAttn', /"mid_block_type": "UNetMidBlock2DSimpleCrossAttn" is not supported/],
    ['attention_head_dim', [2, 4, 8], /"attention_head_dim" has 3 entries for 2 blocks/],
    ['norm_num_groups', 24, /norm_num_groups 24 does not divide block channel count 32/],
  ])('%s = %j is refused, naming the key and the value', (key, value, message) => {
    expect(() => new UNet2DConditionModel({ ...tiny, [key]: value }, { label: 'my/config.json' })).toThrow(message);
    expect(() => new UNet2DConditionModel({ ...tiny, [key]: value }, { label: 'my/config.json' })).toThrow(/^my\/config\.json: /);
  });

  it('keys of later diffusers versions at their defaults load; unknown keys are warnings, not silently acted on', () => {
    const later = { ...tiny, transformer_layers_per_block: 1, attention_type: 'default', addition_embed_type: null, encoder_hid_dim: null, num_attention_heads: null, dropout: 0 };
    const model = new UNet2DConditionModel({ ...later, my_new_feature: 3 });
    expect(model.warnings).toEqual(['UNet2DConditionModel config: unknown config key "my_new_feature" = 3 ignored']);
    disposeModule(model);
  });

  it('the seed Emb config needs emb_dim equal to cross_attention_dim', () => {
    expect(() => unetFromConfig({ ...configOf('unet-emb-tiny'), emb_dim: 16 })).toThrow(/emb_dim 16 must equal cross_attention_dim 32/);
  });
});

describe('UNet folders', () => {
  it('a folder without config.json is named', () => {
    const dir = join(scratch, 'empty');
    mkdirSync(dir, { recursive: true });
    expect(() => UNet2DConditionModel.fromPretrained(dir)).toThrow(new RegExp(`${dir}: neither a diffusers model folder`));
  });

  it('a VAE folder given as a UNet is refused by its _class_name', () => {
    expect(() => UNet2DConditionModel.fromPretrained(join(GOLDEN, 'vae-tiny'))).toThrow(/_class_name 'AutoencoderKL'.*UNet2DConditionModel/);
    expect(() => AutoencoderKL.fromPretrained(join(GOLDEN, 'unet-sd2-tiny'))).toThrow(/_class_name 'UNet2DConditionModel'.*AutoencoderKL/);
  });

  it('a truncated weight file is named', () => {
    const dir = copyFolder('unet-sd2-tiny', 'truncated');
    const file = join(dir, 'diffusion_pytorch_model.safetensors');
    truncateSync(file, statSync(file).size - 1000);
    expect(() => UNet2DConditionModel.fromPretrained(dir)).toThrow(new RegExp(file.replaceAll('.', '\\.')));
  });

  it('weights of another model: missing, unexpected and mis-shaped tensors in one error; non-strict returns the lists', () => {
    const dir = copyFolder('unet-sd1-tiny', 'mixed');
    cpSync(join(GOLDEN, 'unet-sd2-tiny', 'config.json'), join(dir, 'config.json'));
    expect(() => UNet2DConditionModel.fromPretrained(dir)).toThrow(/loadStateDict \(.*diffusion_pytorch_model\.safetensors\): missing \d+: .*unexpected \d+: .*expected shape/);
    const partial = UNet2DConditionModel.fromPretrained(dir, { strict: false });
    const r = partial.loadResult!;
    expect(r.missing.length).toBeGreaterThan(0);
    expect(r.unexpected.length).toBeGreaterThan(0);
    expect(r.mismatched.some((m) => m.name === 'down_blocks.0.attentions.0.proj_in.weight' || m.name.includes('proj_'))).toBe(true);
    disposeModule(partial);
  });
});

describe('UNet inputs', () => {
  let model: UNet2DConditionModel;
  let emb: UNet2DConditionModelEmb;
  beforeAll(() => {
    model = UNet2DConditionModel.fromPretrained(join(GOLDEN, 'unet-sd2-tiny'));
    emb = UNet2DConditionModel.fromPretrained(join(GOLDEN, 'unet-emb-tiny')) as UNet2DConditionModelEmb;
  });
  afterAll(() => {
    disposeModule(model);
    disposeModule(emb);
  });

  it('a sample whose size is not divisible by 2^(down blocks − 1)', () => {
    noGrad(() => expect(() => model.forward({ sample: zeros([1, 4, 15, 16]), timestep: 1, encoderHiddenStates: zeros([1, 3, 32]) })).toThrow(/sample \[1, 4, 15, 16\]: height and width must be divisible by 2/));
  });

  it('a sample with the wrong channel count', () => {
    noGrad(() => expect(() => model.forward({ sample: zeros([1, 3, 16, 16]), timestep: 1, encoderHiddenStates: zeros([1, 3, 32]) })).toThrow(/sample \[1, 3, 16, 16\] must be \[B, 4, H, W\]/));
  });

  it('a context of the wrong width or batch', () => {
    noGrad(() => {
      expect(() => model.forward({ sample: zeros([1, 4, 16, 16]), timestep: 1, encoderHiddenStates: zeros([1, 3, 16]) })).toThrow(/encoderHiddenStates \[1, 3, 16\] must be \[1, S, 32\].*cross_attention_dim 32/);
      expect(() => model.forward({ sample: zeros([1, 4, 16, 16]), timestep: 1, encoderHiddenStates: zeros([2, 3, 32]) })).toThrow(/encoderHiddenStates \[2, 3, 32\]/);
    });
  });

  it('timesteps that do not match the batch', () => {
    noGrad(() => expect(() => model.forward({ sample: zeros([2, 4, 16, 16]), timestep: [1, 2, 3], encoderHiddenStates: zeros([2, 3, 32]) })).toThrow(/3 timesteps for a batch of 2/));
  });

  it('an image embedding of the wrong width', () => {
    noGrad(() => expect(() => emb.forwardEmb({ sample: zeros([1, 4, 16, 16]), timestep: 1, imageEmbedding: zeros([1, 40]) })).toThrow(/image embedding \[1, 40\] must be \[B, 48\] \(input_dim\)/));
  });
});

describe('VAE inputs', () => {
  it('images and latents of the wrong shape', () => {
    const vae = AutoencoderKL.fromPretrained(join(GOLDEN, 'vae-tiny'));
    noGrad(() => {
      expect(() => vae.encode(zeros([1, 3, 31, 32]))).toThrow(/images \[1, 3, 31, 32\]: height and width must be divisible by 2/);
      expect(() => vae.encode(zeros([1, 4, 32, 32]))).toThrow(/images \[1, 4, 32, 32\] must be \[B, 3, H, W\]/);
      expect(() => vae.decode(zeros([1, 3, 16, 16]))).toThrow(/latents \[1, 3, 16, 16\] must be \[B, 4, h, w\]/);
    });
    disposeModule(vae);
  });
});
