// Properties of the backward engine (shared uses, accumulation, noGrad, detach, retainGrad, graph
// freeing, errors) and of the memory scopes (tidy, keep, nesting, no leaks).
import { describe, expect, it } from 'vitest';
import { DeviceArray } from '@sd/kernels';
import { backward, keep, memory, noGrad, isGradEnabled, scalar, tensor, tidy, zeros, type Tensor } from '@sd/autograd';

const read = async (t: Tensor | null) => (t ? Array.from(await t.read()) : null);

describe('backward engine', () => {
  it('a tensor used twice gets both contributions (directly and through a shared intermediate)', async () => {
    await tidy(async () => {
      const x = tensor([1, 2, 3], [3], { requiresGrad: true });
      x.mul(2).add(x.mul(3)).sum().backward();
      expect(await read(x.grad)).toEqual([5, 5, 5]);

      const y = tensor([0.5, -1], [2], { requiresGrad: true });
      const h = y.mul(y); // h = y², used twice: L = Σh + Σh² → dL/dy = 2y + 4y³
      h.sum().add(h.mul(h).sum()).backward();
      const g = await read(y.grad);
      expect(g![0]).toBeCloseTo(2 * 0.5 + 4 * 0.125, 6);
      expect(g![1]).toBeCloseTo(-2 - 4, 6);
    });
  });

  it('gradients accumulate across backward calls until cleared', async () => {
    await tidy(async () => {
      const x = tensor([1, 2], [2], { requiresGrad: true });
      x.square().sum().backward();
      x.mul(10).sum().backward();
      expect(await read(x.grad)).toEqual([12, 14]);
    });
  });

  it('leaves without requiresGrad get no gradient; detach cuts the graph and shares data', async () => {
    await tidy(async () => {
      const x = tensor([1, 2], [2], { requiresGrad: true });
      const c = tensor([3, 4], [2]);
      const d = x.mul(2).detach();
      expect(d.requiresGrad).toBe(false);
      expect(d.isLeaf).toBe(true);
      expect(await read(d)).toEqual([2, 4]);
      x.mul(c).add(d.mul(x)).sum().backward();
      expect(await read(x.grad)).toEqual([3 + 2, 4 + 4]); // d is a constant: d(x·c + d·x)/dx = c + d
      expect(c.grad).toBeNull();
      expect(d.grad).toBeNull();
      const alias = x.detach();
      expect(alias.data.buffer).toBe(x.data.buffer);
    });
  });

  it('noGrad records no graph, nests and restores (also for async bodies and on throw)', async () => {
    await tidy(async () => {
      const x = tensor([1, 2], [2], { requiresGrad: true });
      const y = noGrad(() => {
        expect(isGradEnabled()).toBe(false);
        const inner = noGrad(() => x.mul(2));
        expect(isGradEnabled()).toBe(false);
        return inner.add(x);
      });
      expect(isGradEnabled()).toBe(true);
      expect(y.requiresGrad).toBe(false);
      expect(y.node).toBeNull();
      expect(() => y.sum().backward()).toThrow(/does not require grad/);

      const z = await noGrad(async () => {
        await Promise.resolve();
        return x.exp();
      });
      expect(isGradEnabled()).toBe(true);
      expect(z.requiresGrad).toBe(false);
      expect(() =>
        noGrad(() => {
          throw new Error('boom');
        }),
      ).toThrow('boom');
      expect(isGradEnabled()).toBe(true);
    });
  });

  it('retainGrad keeps the gradient of a non-leaf; others do not', async () => {
    await tidy(async () => {
      const x = tensor([1, 2], [2], { requiresGrad: true });
      const h = x.mul(3).retainGrad();
      const k = h.exp();
      k.mul(h).sum().backward();
      expect(h.grad).not.toBeNull();
      expect(k.grad).toBeNull();
      const hv = [3, 6];
      const g = await read(h.grad);
      hv.forEach((v, i) => expect(g![i]).toBeCloseTo(Math.exp(v) * (1 + v), 2));
    });
  });

  it('frees the graph after backward: a second backward throws, unless retainGraph was passed', async () => {
    await tidy(async () => {
      const x = tensor([1, 2], [2], { requiresGrad: true });
      const loss = x.square().sum();
      loss.backward();
      expect(() => loss.backward()).toThrow(/was freed by an earlier backward.*retainGraph/);
      // Also through a freed intermediate reached from a new root.
      const h = x.exp();
      h.sum().backward();
      expect(() => h.mul(2).sum().backward()).toThrow(/freed by an earlier backward/);
      // The failed call left the gradients alone: 2x from the first loss plus exp(x) from the second.
      const g = await read(x.grad);
      expect(g![0]).toBeCloseTo(2 + Math.exp(1), 5);
      expect(g![1]).toBeCloseTo(4 + Math.exp(2), 5);

      const y = tensor([1, 2], [2], { requiresGrad: true });
      const l2 = y.square().sum();
      l2.backward(undefined, { retainGraph: true });
      l2.backward();
      expect(await read(y.grad)).toEqual([4, 8]);
    });
  });

  it('backward needs an explicit gradient of the right shape for non-scalars', async () => {
    await tidy(async () => {
      const x = tensor([1, 2, 3, 4], [2, 2], { requiresGrad: true });
      const y = x.mul(2);
      expect(() => y.backward()).toThrow('backward: output of shape [2, 2] is not a scalar; pass the gradient explicitly');
      expect(() => y.backward(tensor([1, 1], [2]))).toThrow('does not match the output\'s shape [2, 2]');
      backward(y, tensor([1, 0, 0, 2], [2, 2]));
      expect(await read(x.grad)).toEqual([2, 0, 0, 4]);
      expect(() => tensor([1], [1]).backward()).toThrow(/does not require grad/);
    });
  });

  it('scalar and 0-d roots use an implicit gradient of one', async () => {
    await tidy(async () => {
      const x = scalar(3, { requiresGrad: true });
      x.mul(x).backward();
      expect(await x.grad!.item()).toBe(6);
    });
  });

  it('deep graphs do not overflow the stack', async () => {
    await tidy(async () => {
      const x = tensor([1], [1], { requiresGrad: true });
      let h: Tensor = x;
      for (let i = 0; i < 3000; i++) h = h.add(1);
      h.sum().backward();
      expect(await read(x.grad)).toEqual([1]);
    });
  });

  it('frees every intermediate: only the leaves and their grads survive', async () => {
    const before = DeviceArray.live;
    const x = tensor([1, 2, 3], [3], { requiresGrad: true }).keep();
    tidy(() => x.exp().mul(x).sum().backward());
    expect(DeviceArray.live).toBe(before + 2); // x and x.grad
    x.dispose();
    expect(DeviceArray.live).toBe(before);
  });
});

describe('tidy, keep and dispose', () => {
  it('returns kept tensors and disposes the rest', () => {
    const before = DeviceArray.live;
    let inner: Tensor[] = [];
    const out = tidy(() => {
      const a = zeros([4]);
      const b = a.add(1);
      inner = [a, b];
      return b.mul(2);
    });
    expect(inner.every((t) => t.disposed)).toBe(true);
    expect(out.disposed).toBe(false);
    expect(DeviceArray.live).toBe(before + 1);
    out.dispose();
    expect(DeviceArray.live).toBe(before);
  });

  it('keeps tensors inside returned arrays, maps and plain objects, and keep()-ed ones', () => {
    const before = DeviceArray.live;
    const kept: Tensor[] = [];
    const result = tidy(() => {
      const k = zeros([2]).keep();
      kept.push(k);
      zeros([3]); // dropped
      return { list: [zeros([1])], map: new Map([['m', zeros([1])]]), nested: { t: zeros([1]) } };
    });
    const all = [...result.list, ...result.map.values(), result.nested.t, ...kept];
    expect(all.every((t) => !t.disposed)).toBe(true);
    expect(DeviceArray.live).toBe(before + 4);
    all.forEach((t) => t.dispose());
    expect(DeviceArray.live).toBe(before);
  });

  it('nests: an inner result belongs to the outer scope', () => {
    const before = DeviceArray.live;
    let fromInner: Tensor | null = null;
    let innerTemp: Tensor | null = null;
    const out = tidy(() => {
      fromInner = tidy(() => {
        innerTemp = zeros([2]);
        return innerTemp.add(1);
      });
      expect(innerTemp!.disposed).toBe(true);
      expect(fromInner.disposed).toBe(false);
      return fromInner.mul(3);
    });
    expect(fromInner!.disposed).toBe(true);
    expect(out.disposed).toBe(false);
    out.dispose();
    expect(DeviceArray.live).toBe(before);
  });

  it('disposes everything when the body throws, and works with async bodies', async () => {
    const before = DeviceArray.live;
    expect(() =>
      tidy(() => {
        zeros([5]);
        throw new Error('fail');
      }),
    ).toThrow('fail');
    expect(DeviceArray.live).toBe(before);
    const values = await tidy(async () => {
      const t = zeros([3]).add(2);
      return Array.from(await t.read());
    });
    expect(values).toEqual([2, 2, 2]);
    expect(DeviceArray.live).toBe(before);
  });

  it('keep() from an inner scope survives every enclosing scope', () => {
    const before = DeviceArray.live;
    let t: Tensor | null = null;
    tidy(() => tidy(() => void (t = keep(zeros([2])))));
    expect(t!.disposed).toBe(false);
    t!.dispose();
    expect(DeviceArray.live).toBe(before);
  });

  it('memory() reports live bytes and arrays', () => {
    const m0 = memory();
    const t = zeros([256]);
    const m1 = memory();
    expect(m1.liveArrays).toBe(m0.liveArrays + 1);
    expect(m1.liveBytes).toBeGreaterThanOrEqual(m0.liveBytes + 1024);
    expect(m1.peakBytes).toBeGreaterThanOrEqual(m1.liveBytes);
    t.dispose();
    expect(memory().liveBytes).toBe(m0.liveBytes);
  });
});
