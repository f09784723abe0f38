// Training-step throughput of the shifted-diffusion prior: the default config of `pnpm train:prior`
// (every adapter) and the seed-sized network (width 2048, 32 heads, 8 layers, 1536-d; NVIDIA only),
// the latter against the same network and step in PyTorch fp32 for bench/gpu.ts.
import { Generator, manualSeed, optim, randn, tensor, tidy, type Tensor } from '@sd/autograd';
import { ClipPrior, PRIOR_CONFIGS, ShiftedDiffusion, identityStats, type PriorConfig } from '@sd/models/page';
import type { BenchCase } from '../harness.ts';
import { measureStepSplit, stepVariant } from './autograd.ts';

export function priorStep(config: PriorConfig, batch: number) {
  manualSeed(0);
  const model = new ClipPrior(config);
  const diffusion = new ShiftedDiffusion(identityStats(config.embedDim), 1);
  const opt = new optim.AdamW(model.parameters(), { lr: 1.2e-4, betas: [0.9, 0.96], weightDecay: 0.06, eps: 1e-6 });
  const g = new Generator(1);
  const x0 = randn([batch, config.embedDim], { generator: g }).keep();
  const text = randn([batch, config.embedDim], { generator: g }).keep();
  // Timesteps and clusters as device tensors, as the trainer passes them (so the step can be recorded).
  const t = tensor(Int32Array.from({ length: batch }, (_, i) => (i * 997) % 1000), [batch], { dtype: 'i32' }).keep();
  const clusters = tensor(new Int32Array(batch), [batch], { dtype: 'i32' }).keep();
  const keep = tensor(Float32Array.from({ length: batch }, (_, i) => (i % 10 === 0 ? 0 : 1)), [batch, 1]).keep();
  return {
    run: () =>
      tidy(() => {
        const { mu, s } = diffusion.shiftOf(clusters);
        const xt = diffusion.qSample(x0, t, randn(x0.shape, { generator: g }), mu, s);
        const pred = model.forward({ xt, timesteps: t, clusters, textEmbedding: text, keepText: keep });
        const loss = diffusion.loss(x0, pred, t);
        loss.backward();
        opt.update({ maxGradNorm: 1 });
        opt.zeroGrad();
      }),
    dispose: () => {
      for (const p of model.parameters()) p.dispose();
      for (const x of [x0, text, keep, t, clusters] as Tensor[]) x.dispose();
      opt.dispose();
    },
  };
}

/** The same network and training step in PyTorch (for bench/gpu.ts). */
function torchPrior(c: PriorConfig, batch: number): string {
  return `
import math
import torch.nn as nn
import torch.nn.functional as F
W, D, H, L, FF = ${c.width}, ${c.embedDim}, ${c.heads}, ${c.layers}, ${c.ffMult}
class RMS(nn.Module):
    def __init__(s, d): super().__init__(); s.w = nn.Parameter(torch.ones(d))
    def forward(s, x): return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * s.w
def proj(i): return nn.Sequential(nn.Linear(i, W), nn.SiLU(), nn.LayerNorm(W), nn.Linear(W, W))
class Sin(nn.Module):
    def __init__(s):
        super().__init__(); s.mlp = nn.Sequential(nn.Linear(W, W), nn.SiLU(), nn.Linear(W, W))
        s.register_buffer('f', torch.exp(-math.log(10000) * torch.arange(W // 2) / (W // 2)))
    def forward(s, p): a = p[:, None].float() * s.f; return s.mlp(torch.cat([a.cos(), a.sin()], 1))
class Block(nn.Module):
    def __init__(s):
        super().__init__(); s.n1, s.n2 = RMS(W), RMS(W)
        s.qkv, s.o = nn.Linear(W, 3 * W, bias=False), nn.Linear(W, W, bias=False)
        s.ff1, s.ff2 = nn.Linear(W, 2 * FF * W, bias=False), nn.Linear(FF * W, W, bias=False)
    def forward(s, x):
        b, n, _ = x.shape
        q, k, v = s.qkv(s.n1(x)).view(b, n, 3, H, W // H).permute(2, 0, 3, 1, 4)
        x = x + s.o(F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, n, W))
        a, g = s.ff1(s.n2(x)).chunk(2, -1)
        return x + s.ff2(a * F.gelu(g))
class Prior(nn.Module):
    def __init__(s):
        super().__init__(); s.text, s.x = proj(D), proj(D); s.time, s.cluster = Sin(), Sin()
        s.null, s.query = nn.Parameter(torch.randn(1, W) * .02), nn.Parameter(torch.randn(1, W) * .02)
        s.blocks = nn.ModuleList([Block() for _ in range(L)]); s.norm = RMS(W)
        s.head = nn.Sequential(nn.Linear(W, W), nn.SiLU(), nn.Linear(W, D))
    def forward(s, xt, t, c, text, keep):
        txt = s.null + keep * (s.text(text) - s.null)
        h = torch.stack([txt, s.time(t), s.cluster(c), s.x(xt), s.query.expand(xt.shape[0], W)], 1)
        for blk in s.blocks: h = blk(h)
        return s.head(s.norm(h)[:, -1])
B = ${batch}
model = Prior().to(dev)
opt = torch.optim.AdamW(model.parameters(), lr=1.2e-4, betas=(0.9, 0.96), weight_decay=0.06, eps=1e-6)
ac = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, device=dev), 0)
x0, text = torch.randn(B, D, device=dev), torch.randn(B, D, device=dev)
t = torch.arange(B, device=dev) * 997 % 1000
c, keep = torch.zeros(B, device=dev), (torch.arange(B, device=dev) % 10 != 0).float()[:, None]
def fn():
    a = ac[t][:, None]
    xt = a.sqrt() * x0 + (1 - a).sqrt() * torch.randn_like(x0)
    loss = ((1 - a) * (x0 - model(xt, t, c, text, keep)).pow(2).mean(1, keepdim=True)).mean()
    opt.zero_grad(set_to_none=True); loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step()
`;
}

const DEFAULT_BATCH = 64;
const SEED_BATCH = 64;

/** The default prior's step, eager (the reference) or replayed from a recording made after one eager step (as the trainer does). */
function defaultPriorCase(variant: 'eager' | 'recorded'): BenchCase {
  return {
    kernel: 'prior_train_step',
    shape: `tiny (width ${PRIOR_CONFIGS.tiny.width}, ${PRIOR_CONFIGS.tiny.layers} layers, 64-d), batch ${DEFAULT_BATCH}`,
    variant,
    reference: variant === 'eager',
    maxRepeats: 5,
    async setup() {
      const step = priorStep({ ...PRIOR_CONFIGS.tiny, embedDim: 64 }, DEFAULT_BATCH);
      const { run, dispose } = stepVariant(step.run, step.dispose, variant);
      const { jsMs, wallMs } = await measureStepSplit(run);
      console.log(`prior_train_step (default config, batch ${DEFAULT_BATCH}, ${variant}): JS ${jsMs.toFixed(1)} ms of ${wallMs.toFixed(1)} ms wall per step (${((100 * jsMs) / wallMs).toFixed(0)}%)`);
      return { run, dispose };
    },
    torch: variant === 'eager' ? torchPrior({ ...PRIOR_CONFIGS.tiny, embedDim: 64 }, DEFAULT_BATCH) : undefined,
  };
}

export const cases: BenchCase[] = [
  defaultPriorCase('eager'),
  defaultPriorCase('recorded'),
  {
    kernel: 'prior_seed_train_step',
    shape: `seed (width 2048, 32 heads, 8 layers, 1536-d), batch ${SEED_BATCH}`,
    maxRepeats: 3,
    adapters: ['nvidia', 'other'],
    setup: async () => priorStep(PRIOR_CONFIGS.seed, SEED_BATCH),
    torch: torchPrior(PRIOR_CONFIGS.seed, SEED_BATCH),
  },
];
