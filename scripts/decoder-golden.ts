// Prints how far the project's UNet and VAE are from diffusers' own outputs on the golden folders
// (../shared/data/decoder-golden): max |ours − diffusers| / max |diffusers| per output.
//   pnpm tsx scripts/decoder-golden.ts
import { initRuntime } from '@sd/kernels';
import { noGrad, tensor, type Tensor } from '@sd/autograd';
import { readSafetensors } from '@sd/io';
import { AutoencoderKL, UNet2DConditionModel, UNet2DConditionModelEmb } from '@sd/models';
import { join, resolve } from 'node:path';

const GOLDEN = resolve(import.meta.dirname, '../../shared/data/decoder-golden');
await initRuntime();

function report(folder: string, name: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    err = Math.max(err, Math.abs(got[i] - want[i]));
  }
  console.log(`${folder.padEnd(14)} ${name.padEnd(17)} max|diffusers| ${scale.toFixed(3)}  max error ${err.toExponential(2)}  relative ${(err / scale).toExponential(2)}`);
}

await noGrad(async () => {
  for (const folder of ['unet-sd2-tiny', 'unet-sd1-tiny', 'unet-emb-tiny', 'vae-tiny']) {
    const g = readSafetensors(join(GOLDEN, folder, 'golden.safetensors')).tensors;
    const input = (k: string): Tensor => tensor(g.get(k)!.data as Float32Array, g.get(k)!.shape);
    const want = (k: string) => g.get(k)!.data;
    if (folder === 'vae-tiny') {
      const vae = AutoencoderKL.fromPretrained(join(GOLDEN, folder));
      const posterior = vae.encode(input('image'));
      report(folder, 'posterior mean', await posterior.mean.read(), want('posterior_mean'));
      report(folder, 'posterior logvar', await posterior.logvar.read(), want('posterior_logvar'));
      report(folder, 'decoded', await vae.decode(input('latent')).read(), want('decoded'));
      continue;
    }
    const unet = UNet2DConditionModel.fromPretrained(join(GOLDEN, folder));
    const timestep = Array.from(g.get('timestep')!.data);
    const out = unet instanceof UNet2DConditionModelEmb
      ? unet.forwardEmb({ sample: input('sample'), timestep, imageEmbedding: input('image_embedding') })
      : unet.forward({ sample: input('sample'), timestep, encoderHiddenStates: input('encoder_hidden_states') });
    report(folder, 'output', await out.read(), want('output'));
  }
});
process.exit(0);
