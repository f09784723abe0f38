// The decoder models: the tiny decoder UNet (16×16×4 latents, 4 context tokens, batch 16) forward
// and training step (forward + backward + AdamW), with where a step's time goes (JavaScript
// encoding vs the whole step); and what SD2-base's building blocks cost at 64×64×320.
import { Generator, manualSeed, nn, noGrad, optim, randn, tidy, type Tensor } from '@sd/autograd';
import { ResnetBlock2D, SD2_BASE_UNET_CONFIG, TINY_DECODER_UNET_CONFIG, Transformer2DModel, UNet2DConditionModel, UNet2DConditionModelEmb, disposeModule } from '@sd/models/page';
import type { BenchCase } from '../harness.ts';
import { measureStepSplit, stepVariant } from './autograd.ts';
import { TORCH_UNET, pyJson } from './torch-unet.ts';

const BATCH = 16;
const tinyShape = `tiny Emb UNet (32, 64) 16×16×4, 4 tokens, batch ${BATCH}`;

export function tinyDecoder(train: boolean) {
  manualSeed(0);
  const unet = new UNet2DConditionModelEmb(TINY_DECODER_UNET_CONFIG);
  const g = new Generator(1);
  const sample = randn([BATCH, 4, 16, 16], { generator: g }).keep();
  const embedding = randn([BATCH, 64], { generator: g }).keep();
  const target = randn([BATCH, 4, 16, 16], { generator: g }).keep();
  const t = Array.from({ length: BATCH }, (_, i) => (i * 997) % 1000);
  const opt = train ? new optim.AdamW(unet.parameters(), { lr: 1e-4 }) : null;
  const forward = () => unet.forwardEmb({ sample, timestep: t, imageEmbedding: embedding });
  const step = train
    ? () =>
        tidy(() => {
          forward().sub(target).square().mean().backward();
          opt!.update({ maxGradNorm: 1 });
          opt!.zeroGrad();
        })
    : () => noGrad(() => tidy(() => void forward()));
  return {
    step,
    dispose: () => {
      disposeModule(unet);
      opt?.dispose();
      for (const x of [sample, embedding, target]) x.dispose();
    },
  };
}

/** The same network and step in PyTorch (bench/gpu.ts): default init, per-sample timesteps (i·997) mod 1000. */
function torchTiny(train: boolean): string {
  return `${TORCH_UNET}
B = ${BATCH}
torch.manual_seed(0)
model = UNet2DConditionModelEmb(${pyJson(TINY_DECODER_UNET_CONFIG)}).to(dev)
sample = torch.randn(B, 4, 16, 16, device=dev)
embedding = torch.randn(B, model.emb_proj_layers.in_features, device=dev)
target = torch.randn(B, 4, 16, 16, device=dev)
t = torch.arange(B, device=dev) * 997 % 1000
${
  train
    ? `opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
def fn():
    loss = (model.forward_emb(sample, t, embedding) - target).square().mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()`
    : `model.eval()
def fn():
    with torch.no_grad():
        model.forward_emb(sample, t, embedding)`
}
`;
}

/** Eager (the reference), or replayed from a recording made after one eager step (as the decoder trainer does). */
function splitCase(kernel: string, train: boolean, variant: 'eager' | 'recorded' = 'eager'): BenchCase {
  return {
    kernel,
    shape: tinyShape,
    variant,
    reference: train ? variant === 'eager' : undefined,
    maxRepeats: 10,
    torch: variant === 'eager' ? torchTiny(train) : undefined,
    async setup() {
      const s = tinyDecoder(train);
      const { run, dispose } = stepVariant(s.step, s.dispose, variant);
      const { jsMs, wallMs } = await measureStepSplit(run);
      console.log(`${kernel} ${tinyShape} (${variant}): JS ${jsMs.toFixed(1)} ms of ${wallMs.toFixed(1)} ms per step (${((100 * jsMs) / wallMs).toFixed(0)}%)`);
      return { run, dispose };
    },
  };
}

/** One SD2-base-sized block at 64×64 with 320 channels, forward only. */
function sdBlock(kernel: string, shape: string, torch: string, make: () => { module: nn.Module; run: () => Tensor; inputs: Tensor[] }): BenchCase {
  return {
    kernel,
    shape,
    maxRepeats: 3,
    torch: `${TORCH_UNET}
torch.manual_seed(0)
${torch}
module.eval()
def fn():
    with torch.no_grad():
        module(*inputs)
`,
    async setup() {
      manualSeed(0);
      const { module, run, inputs } = make();
      return {
        run: () => noGrad(() => tidy(() => void run())),
        dispose: () => {
          disposeModule(module);
          for (const x of inputs) x.dispose();
        },
      };
    },
  };
}

export const cases: BenchCase[] = [
  splitCase('decoder_unet_fwd', false),
  splitCase('decoder_unet_train_step', true),
  splitCase('decoder_unet_train_step', true, 'recorded'),
  sdBlock('sd2_resnet_block', '320→320, 64×64, temb 1280, batch 1', `module = ResnetBlock2D(320, 320, 1280, 32, 1e-5).to(dev)
inputs = (torch.randn(1, 320, 64, 64, device=dev), torch.randn(1, 1280, device=dev))`, () => {
    const module = new ResnetBlock2D({ inChannels: 320, outChannels: 320, tembChannels: 1280, groups: 32, eps: 1e-5 });
    const x = randn([1, 320, 64, 64]).keep();
    const temb = randn([1, 1280]).keep();
    return { module, inputs: [x, temb], run: () => module.forward(x, temb) };
  }),
  sdBlock('sd2_transformer2d', '320 ch (5 heads × 64), 64×64, context 77×1024, batch 1', `module = Transformer2DModel(320, 5, 1024, 32, 1, True).to(dev)
inputs = (torch.randn(1, 320, 64, 64, device=dev), torch.randn(1, 77, 1024, device=dev))`, () => {
    const module = new Transformer2DModel({ channels: 320, heads: 5, contextDim: 1024, groups: 32, layers: 1, linearProjection: true });
    const x = randn([1, 320, 64, 64]).keep();
    const context = randn([1, 77, 1024]).keep();
    return { module, inputs: [x, context], run: () => module.forward(x, context) };
  }),
  ...[1, 4].map(
    (batch): BenchCase => ({
      kernel: 'sd2_unet_fwd',
      shape: `SD2-base UNet, 64×64×4 latents, context 77×1024, batch ${batch}`,
      maxRepeats: 5,
      adapters: ['nvidia', 'other'],
      torch: `${TORCH_UNET}
torch.manual_seed(0)
with on_device(dev):
    model = UNet2DConditionModel(${pyJson(SD2_BASE_UNET_CONFIG)})
model = model.to(dev).eval()
with torch.no_grad():
    for p in model.parameters():
        p.normal_(0, 0.02)
sample = torch.randn(${batch}, 4, 64, 64, device=dev)
context = torch.randn(${batch}, 77, 1024, device=dev)
t = torch.full((${batch},), 500, device=dev)
def fn():
    with torch.no_grad():
        model(sample, t, context)
`,
      async setup() {
        const unet = nn.init.withoutInit(() => new UNet2DConditionModel(SD2_BASE_UNET_CONFIG));
        for (const p of unet.parameters()) p.assign(randn(p.shape, { std: 0.02 }).keep().data);
        const sample = randn([batch, 4, 64, 64]).keep();
        const context = randn([batch, 77, 1024]).keep();
        return {
          run: () => noGrad(() => tidy(() => void unet.forward({ sample, timestep: 500, encoderHiddenStates: context }))),
          dispose: () => {
            disposeModule(unet);
            sample.dispose();
            context.dispose();
          },
        };
      },
    }),
  ),
];
