// Fused attention (the adapter-selected variant): forward, and forward + backward, at D = 64 with
// B·H = 8 and 64 and S = 256 and 1024, against PyTorch fp32 scaled_dot_product_attention on NVIDIA.
import { attention, attentionBackward } from '@sd/kernels';
import type { BenchCase } from '../harness.ts';
import { filled } from '../inputs.ts';


function attentionCase(B: number, H: number, S: number, D: number, backward: boolean): BenchCase {
  const forwardFlops = 4 * B * H * S * S * D; // q·kᵀ and p·v
  const tensors = (n: number) => Array.from({ length: n }, (_, i) => `torch.rand(${B}, ${H}, ${S}, ${D}, device=dev) - 0.5`);
  const [q, k, v, g] = tensors(4);
  return {
    kernel: 'attention',
    shape: `[${B},${H},${S},${D}] ${backward ? 'fwd+bwd' : 'fwd'}`,
    // The backward recomputes q·kᵀ and does four more S×S×D products: 3.5× the forward in all.
    flops: backward ? 3.5 * forwardFlops : forwardFlops,
    // Seconds per repetition on lavapipe for the big ones.
    maxRepeats: forwardFlops >= 2 ** 32 ? 3 : undefined,
    async setup() {
      const [qa, ka, va, ga] = [1, 2, 3, 4].map((seed) => filled([B, H, S, D], seed));
      return {
        run: () => {
          const { out, lse } = attention(qa, ka, va);
          if (backward) {
            const grads = attentionBackward(qa, ka, va, out, lse, ga);
            for (const a of [grads.dq, grads.dk, grads.dv]) a.dispose();
          }
          out.dispose();
          lse.dispose();
        },
        dispose: () => [qa, ka, va, ga].forEach((a) => a.dispose()),
      };
    },
    torch: backward
      ? [
          `q, k, v = (t.requires_grad_() for t in (${q}, ${k}, ${v}))`,
          `g = ${g}`,
          'def fn():',
          '    out = torch.nn.functional.scaled_dot_product_attention(q, k, v)',
          '    return torch.autograd.grad(out, (q, k, v), g)',
        ].join('\n')
      : [`q, k, v = ${q}, ${k}, ${v}`, 'fn = lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v)'].join('\n'),
  };
}

export const cases: BenchCase[] = [
  [1, 8],
  [8, 8],
].flatMap(([B, H]) => [256, 1024].flatMap((S) => [false, true].map((backward) => attentionCase(B, H, S, 64, backward))));
