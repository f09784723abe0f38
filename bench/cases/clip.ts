// CLIP image-encoder forward passes with random weights (throughput = batch / time per repetition).
// On lavapipe one 224×224 image through ViT-B/32 takes seconds: keep repetitions at 1–2.
import { noGrad, randn, tidy } from '@sd/autograd';
import { CLIP_CONFIGS, ModifiedResNet, VisionTransformer, disposeModule, type ClipModelName } from '@sd/models/page';
import type { BenchCase } from '../harness.ts';

/** Forward FLOPs of a ViT image tower (matmuls and attention; norms and activations ignored). */
function vitFlops(name: ClipModelName, batch: number): number {
  const { vision, embedDim } = CLIP_CONFIGS[name];
  if (vision.kind !== 'vit') return 0;
  const { imageResolution: r, patchSize: p, width: w, layers } = vision;
  const tokens = (r / p) ** 2 + 1;
  const patch = 2 * (tokens - 1) * 3 * p * p * w;
  const perLayer = 2 * tokens * w * (3 * w + w + 8 * w) + 4 * tokens * tokens * w;
  return batch * (patch + layers * perLayer + 2 * w * embedDim);
}

/** The same ViT tower in PyTorch (OpenAI's structure: patch conv, class token, pre-LN QuickGELU blocks). */
function vitTorch(name: ClipModelName, batch: number): string | undefined {
  const { vision, embedDim } = CLIP_CONFIGS[name];
  if (vision.kind !== 'vit') return undefined;
  const { imageResolution: r, patchSize: p, width: w, layers, heads } = vision;
  return `
nn = torch.nn
class Block(nn.Module):
    def __init__(s):
        super().__init__()
        s.ln_1, s.ln_2 = nn.LayerNorm(${w}), nn.LayerNorm(${w})
        s.attn = nn.MultiheadAttention(${w}, ${heads}, batch_first=True)
        s.c_fc, s.c_proj = nn.Linear(${w}, ${4 * w}), nn.Linear(${4 * w}, ${w})
    def forward(s, x):
        h = s.ln_1(x)
        x = x + s.attn(h, h, h, need_weights=False)[0]
        h = s.c_fc(s.ln_2(x))
        return x + s.c_proj(h * torch.sigmoid(1.702 * h))
class ViT(nn.Module):
    def __init__(s):
        super().__init__()
        s.conv1 = nn.Conv2d(3, ${w}, ${p}, stride=${p}, bias=False)
        s.cls = nn.Parameter(torch.randn(1, 1, ${w}))
        s.pos = nn.Parameter(torch.randn(${(r / p) ** 2 + 1}, ${w}))
        s.ln_pre, s.ln_post = nn.LayerNorm(${w}), nn.LayerNorm(${w})
        s.blocks = nn.Sequential(*[Block() for _ in range(${layers})])
        s.proj = nn.Parameter(torch.randn(${w}, ${embedDim}))
    def forward(s, x):
        x = s.conv1(x).flatten(2).transpose(1, 2)
        x = torch.cat([s.cls.expand(x.shape[0], -1, -1), x], 1) + s.pos
        x = s.blocks(s.ln_pre(x))
        return s.ln_post(x[:, 0]) @ s.proj
model = ViT().to(dev).eval()
images = torch.randn(${batch}, 3, ${r}, ${r}, device=dev)
def fn():
    with torch.no_grad():
        model(images)
`;
}

function imageEncoderCase(name: ClipModelName, batch: number): BenchCase {
  const { vision, embedDim } = CLIP_CONFIGS[name];
  const r = vision.imageResolution;
  return {
    kernel: 'clip',
    shape: `${name} image encoder [${batch},3,${r},${r}]`,
    flops: vitFlops(name, batch) || undefined,
    maxRepeats: 2,
    torch: vitTorch(name, batch),
    async setup() {
      const tower = vision.kind === 'vit' ? new VisionTransformer(vision, embedDim) : new ModifiedResNet(vision, embedDim);
      tower.eval();
      const images = randn([batch, 3, r, r]).keep();
      return {
        run: () => tidy(() => noGrad(() => void tower.forward(images))),
        dispose: () => {
          images.dispose();
          disposeModule(tower);
        },
      };
    },
  };
}

export const cases: BenchCase[] = [imageEncoderCase('ViT-B/32', 1)];
