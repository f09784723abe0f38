// GroupNorm bandwidth on the UNet's most common shape: 32 groups of C = 320 at 64×64, forward (and
// forward + backward with the fused SiLU). GB/s counts the minimal traffic: x read and y written
// once (plus dy read and dx written for the backward).
import { groupNorm, groupNormBackward } from '@sd/kernels';
import type { BenchCase } from '../harness.ts';
import { filled } from '../inputs.ts';


function groupNormCase(n: number, c: number, hw: number, groups: number, backward: boolean): BenchCase {
  const bytes = 4 * n * c * hw * hw * (backward ? 5 : 2); // bwd: + x, dy read again and dx written
  const inputs = `x = torch.randn(${n}, ${c}, ${hw}, ${hw}, device=dev)
w = torch.randn(${c}, device=dev)
b = torch.randn(${c}, device=dev)`;
  return {
    kernel: 'groupnorm',
    shape: `[${n}, ${c}, ${hw}x${hw}] ${groups} groups ${backward ? '+SiLU fwd+bwd' : 'fwd'}`,
    bytes,
    async setup() {
      const x = filled([n, c, hw, hw], 1);
      const w = filled([c], 2);
      const b = filled([c], 3);
      const dy = filled([n, c, hw, hw], 4);
      const run = () => {
        const out = groupNorm(x, groups, w, b, 1e-5, { silu: backward });
        if (backward) {
          const g = groupNormBackward(dy, x, w, b, out.mean, out.rstd, groups, { silu: true });
          for (const a of [g.dx, g.dweight, g.dbias]) a?.dispose();
        }
        for (const a of [out.y, out.mean, out.rstd]) a.dispose();
      };
      return { run, dispose: () => [x, w, b, dy].forEach((a) => a.dispose()) };
    },
    torch: backward
      ? `${inputs}
x.requires_grad_(True); w.requires_grad_(True); b.requires_grad_(True)
g = torch.randn(${n}, ${c}, ${hw}, ${hw}, device=dev)
def fn():
    torch.nn.functional.silu(torch.nn.functional.group_norm(x, ${groups}, w, b)).backward(g)`
      : `${inputs}
fn = lambda: torch.nn.functional.group_norm(x, ${groups}, w, b)`,
  };
}

export const cases: BenchCase[] = [groupNormCase(1, 320, 64, 32, false), groupNormCase(1, 320, 64, 32, true)];
