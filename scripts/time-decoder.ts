// Times decoder UNet training steps (batch 16, 16×16×4 latents, 64-d embeddings: the default CLIP's)
// for candidate sizes, to choose the default decoder config: `pnpm tsx scripts/time-decoder.ts [steps] [name prefixes, comma-separated]`.
// The first two steps (shader compiles, buffer pool growth) are not counted.
import { initRuntime, rt } from '@sd/kernels';
import { manualSeed, optim, randn, tidy } from '@sd/autograd';
import { UNet2DConditionModelEmb } from '@sd/models';

const BASE = {
  _class_name: 'UNet2DConditionModelEmb', sample_size: 16, in_channels: 4, out_channels: 4, layers_per_block: 1,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'], up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  use_linear_projection: true, input_dim: 64, proj_n: 4,
};
const CANDIDATES: Record<string, Record<string, unknown>> = {
  '32-64': { block_out_channels: [32, 64], attention_head_dim: [1, 2], norm_num_groups: 16, cross_attention_dim: 64, emb_dim: 64 },
  '64-128': { block_out_channels: [64, 128], attention_head_dim: [2, 4], norm_num_groups: 32, cross_attention_dim: 128, emb_dim: 128 },
  '64-128-DownBlock-first': { block_out_channels: [64, 128], down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D'], up_block_types: ['CrossAttnUpBlock2D', 'UpBlock2D'], attention_head_dim: [2, 4], norm_num_groups: 32, cross_attention_dim: 128, emb_dim: 128 },
  '32-64-DownBlock-first': { block_out_channels: [32, 64], down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D'], up_block_types: ['CrossAttnUpBlock2D', 'UpBlock2D'], attention_head_dim: [1, 2], norm_num_groups: 16, cross_attention_dim: 64, emb_dim: 64 },
  '48-96-DownBlock-first': { block_out_channels: [48, 96], down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D'], up_block_types: ['CrossAttnUpBlock2D', 'UpBlock2D'], attention_head_dim: [2, 2], norm_num_groups: 16, cross_attention_dim: 96, emb_dim: 96 },
  '32-64-64-DownBlock-first': { block_out_channels: [32, 64, 64], down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'], up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'], attention_head_dim: [1, 2, 2], norm_num_groups: 16, cross_attention_dim: 64, emb_dim: 64 },
  '64-128-128': { block_out_channels: [64, 128, 128], down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'], attention_head_dim: [2, 4, 4], norm_num_groups: 32, cross_attention_dim: 128, emb_dim: 128 },
};

await initRuntime();
const steps = Number(process.argv[2] ?? 5);
const only = process.argv[3];
const batch = 16;
for (const [name, sizes] of Object.entries(CANDIDATES)) {
  if (only && !only.split(',').some((o) => name.startsWith(o))) continue;
  manualSeed(0);
  const unet = new UNet2DConditionModelEmb({ ...BASE, ...sizes });
  const opt = new optim.AdamW(unet.parameters(), { lr: 1e-4 });
  const times: number[] = [];
  for (let s = 0; s < steps + 2; s++) {
    const t0 = performance.now();
    const loss = tidy(() => {
      const x = randn([batch, 4, 16, 16]);
      const e = randn([batch, 64]);
      const t = Array.from({ length: batch }, (_, i) => (s * 97 + i * 61) % 1000);
      const l = unet.forwardEmb({ sample: x, timestep: t, imageEmbedding: e }).sub(x).square().mean();
      l.backward();
      opt.update({ maxGradNorm: 1 });
      opt.zeroGrad();
      return l.detach();
    });
    await loss.item();
    loss.dispose();
    await rt().sync();
    if (s >= 2) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  console.log(`${name}: ${(unet.numParameters() / 1e6).toFixed(3)} M parameters, step median ${times[times.length >> 1].toFixed(0)} ms (min ${times[0].toFixed(0)}, max ${times[times.length - 1].toFixed(0)}) over ${times.length} steps at batch ${batch}`);
  for (const p of unet.parameters()) p.dispose();
}
