// Times VAE training steps (batch 16, 64×64 procedural images) for candidate sizes, to choose the
// default VAE config: `pnpm tsx scripts/time-vae.ts [steps]`. The first two steps (shader compiles,
// buffer pool growth) are not counted.
import { initRuntime, rt } from '@sd/kernels';
import { optim, tensor, tidy } from '@sd/autograd';
import { AutoencoderKL, proceduralImages, imageBatch, vaeLoss, purposeGenerator } from '@sd/models';

const CANDIDATES: Record<string, Record<string, unknown>> = {
  '8-16-32 (groups 8)': { block_out_channels: [8, 16, 32], norm_num_groups: 8 },
  '8-16-64 (groups 8)': { block_out_channels: [8, 16, 64], norm_num_groups: 8 },
  '16-32-64 (groups 8)': { block_out_channels: [16, 32, 64], norm_num_groups: 8 },
  '32-64-64 (groups 16)': { block_out_channels: [32, 64, 64], norm_num_groups: 16 },
  '32-64-128 (groups 32)': { block_out_channels: [32, 64, 128], norm_num_groups: 32 },
};
const BLOCKS = { down_block_types: Array(3).fill('DownEncoderBlock2D'), up_block_types: Array(3).fill('UpDecoderBlock2D'), layers_per_block: 1, latent_channels: 4, sample_size: 64 };

await initRuntime();
const steps = Number(process.argv[2] ?? 6);
const images = proceduralImages(64, { seed: 0, split: 'train' });
const batch = 16;
const only = process.argv[3];
for (const [name, sizes] of Object.entries(CANDIDATES)) {
  if (only && !name.startsWith(only)) continue;
  const vae = new AutoencoderKL({ ...BLOCKS, ...sizes });
  const opt = new optim.AdamW(vae.parameters(), { lr: 1e-4 });
  const times: number[] = [];
  const jsTimes: number[] = [];
  for (let s = 0; s < steps + 2; s++) {
    const t0 = performance.now();
    const rows = Array.from({ length: batch }, (_, i) => (s * batch + i) % images.count);
    const loss = tidy(() => {
      const l = vaeLoss(vae, tensor(imageBatch(images, rows), [batch, 3, 64, 64]), 1e-6, purposeGenerator(0, 'time', s * batch * 1024));
      l.backward();
      opt.update({ maxGradNorm: 1 });
      opt.zeroGrad();
      return l.detach();
    });
    const encoded = performance.now();
    await loss.item();
    loss.dispose();
    await rt().sync();
    if (s >= 2) {
      times.push(performance.now() - t0);
      jsTimes.push(encoded - t0);
    }
  }
  const jsShare = jsTimes.reduce((a, b) => a + b, 0) / times.reduce((a, b) => a + b, 0);
  times.sort((a, b) => a - b);
  console.log(`${name}: ${(vae.numParameters() / 1e6).toFixed(3)} M parameters, step median ${times[times.length >> 1].toFixed(0)} ms (min ${times[0].toFixed(0)}, max ${times[times.length - 1].toFixed(0)}) over ${times.length} steps at batch ${batch}; JS encoding ${(100 * jsShare).toFixed(0)}% of the wall time`);
  for (const p of vae.parameters()) p.dispose();
}
