// Does the decoder use its condition? The training loss at fixed timesteps on 32 held-out images
// with the true image embedding, the zero (null) embedding and a shuffled one (each image gets
// another's), the same noise for all three. Equal losses at a timestep mean the condition is ignored
// there. Usage: pnpm tsx scripts/decoder-condition-loss.ts [DECODER_DIR] [VAE_DIR] (default: the committed ones).
import { initRuntime } from '@sd/kernels';
import { noGrad, randn, tensor, tidy, manualSeed } from '@sd/autograd';
import { AutoencoderKL, UNet2DConditionModel, UNet2DConditionModelEmb, defaultClipPath, loadExportedClip, oracleImages, decoderLoss, readDecoderSchedulerConfig, defaultDecoderDir, defaultVaeDir, DEFAULT_DATA_SEED } from '@sd/models';
import { encodeLatents, encodeEmbeddings } from '../packages/models/src/decoder/data.ts';
import { DDPMScheduler } from '../packages/models/src/diffusion/ddpm.ts';

await initRuntime();
const dec = process.argv[2] ?? defaultDecoderDir();
const unet = UNet2DConditionModel.fromPretrained(dec) as UNet2DConditionModelEmb; unet.eval();
const vae = AutoencoderKL.fromPretrained(process.argv[3] ?? defaultVaeDir()).eval();
const clip = loadExportedClip(defaultClipPath());
const n = 32;
const { images } = oracleImages(n, DEFAULT_DATA_SEED, 64);
const lat = await encodeLatents(vae, images);
const emb = await encodeEmbeddings(clip, images);
let m = 0, s = 0; for (const v of lat) { m += v; s += v * v; } m /= lat.length; s = Math.sqrt(s / lat.length - m * m);
console.log(`latents mean ${m.toFixed(3)} std ${s.toFixed(3)} sf ${vae.scalingFactor}`);
// The loss the decoder was trained with (ε or v: its own scheduler_config.json).
const sched = new DDPMScheduler(readDecoderSchedulerConfig(dec));
const dim = clip.embedDim;
const shuffled = new Float32Array(emb.length); for (let i = 0; i < n; i++) shuffled.set(emb.subarray(((i + 7) % n) * dim, ((i + 7) % n + 1) * dim), i * dim);
manualSeed(1);
const x0 = tensor(lat, [n, 4, 16, 16]).keep();
for (const t of [20, 100, 300, 500, 700, 900, 990]) {
  const row: string[] = [];
  for (const [name, c] of [['true', emb], ['null', new Float32Array(emb.length)], ['shuffled', shuffled]] as const) {
    manualSeed(t);
    const v = await tidy(() => noGrad(() => {
      const noise = randn([n, 4, 16, 16]);
      return decoderLoss(unet, sched, x0, tensor(c, [n, dim]), noise, Array(n).fill(t)).keep();
    })).read();
    row.push(`${name} ${(v as Float32Array)[0].toFixed(4)}`);
  }
  console.log(`t=${t}: ${row.join('  ')}`);
}
