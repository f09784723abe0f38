// Prints how far the project's UNet and VAE are from diffusers' own outputs on the golden folders
// (../shared/data/decoder-golden): max |ours − diffusers| / max |diffusers| per output — the numbers
// test/models/decoder-models.test.ts asserts to be ≤ 1e-4.
//   pnpm tsx scripts/decoder-golden.ts
import { initRuntime } from '@sd/kernels';
import { noGrad } from '@sd/autograd';
import { AutoencoderKL, UNet2DConditionModel } from '@sd/models';
import { join } from 'node:path';
import { GOLDEN, goldenError, goldens, goldenUNetOutput } from '../test/util/decoder-golden.ts';

await initRuntime();

function report(folder: string, name: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  const { err, scale } = goldenError(got, want);
  console.log(`${folder.padEnd(14)} ${name.padEnd(17)} max|diffusers| ${scale.toFixed(3)}  max error ${err.toExponential(2)}  relative ${(err / scale).toExponential(2)}`);
}

for (const folder of ['unet-sd2-tiny', 'unet-sd1-tiny', 'unet-emb-tiny']) {
  const unet = UNet2DConditionModel.fromPretrained(join(GOLDEN, folder));
  report(folder, 'output', await goldenUNetOutput(unet, folder), goldens(folder).host('output'));
  unet.dispose();
}
const g = goldens('vae-tiny');
const vae = AutoencoderKL.fromPretrained(join(GOLDEN, 'vae-tiny'));
await noGrad(async () => {
  const posterior = vae.encode(g.tensor('image'));
  report('vae-tiny', 'posterior mean', await posterior.mean.read(), g.host('posterior_mean'));
  report('vae-tiny', 'posterior logvar', await posterior.logvar.read(), g.host('posterior_logvar'));
  report('vae-tiny', 'decoded', await vae.decode(g.tensor('latent')).read(), g.host('decoded'));
});
process.exit(0);
