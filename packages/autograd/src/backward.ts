// Reverse-mode differentiation: walk the graph in reverse topological order, accumulating gradients.
import { noGrad } from './grad-mode.ts';
import { tidy } from './scope.ts';
import { Tensor } from './tensor.ts';
import { add } from './ops/arithmetic.ts';
import { ones } from './creation.ts';
import { fmt } from '@sd/kernels';

function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative DFS: graphs of deep models would overflow the JS stack with recursion.
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (visited.has(t)) continue;
    visited.add(t);
    if (!t.node && t.freedOp) {
      throw new Error(
        `backward: the graph behind ${t} (made by ${t.freedOp}) was freed by an earlier backward; ` +
          'pass { retainGraph: true } to the earlier call to differentiate through it again',
      );
    }
    stack.push([t, true]);
    for (const input of t.node?.inputs ?? []) if (input.requiresGrad && !visited.has(input)) stack.push([input, false]);
  }
  return order.reverse();
}

/**
 * Computes d(root)/d(leaf) for every leaf that requires a gradient and adds it to `leaf.grad`
 * (so two backward calls accumulate). The graph is freed afterwards unless `retainGraph`: a later
 * backward through any of its non-leaf tensors throws (as in PyTorch).
 */
export function backward(root: Tensor, gradient?: Tensor, options: { retainGraph?: boolean } = {}): void {
  if (!root.requiresGrad) throw new Error(`backward: tensor ${root} does not require grad (no input had requiresGrad)`);
  if (!gradient && root.size !== 1) {
    throw new Error(`backward: output of shape ${fmt(root.shape)} is not a scalar; pass the gradient explicitly`);
  }
  if (gradient && fmt(gradient.shape) !== fmt(root.shape)) {
    throw new Error(`backward: gradient of shape ${fmt(gradient.shape)} does not match the output's shape ${fmt(root.shape)}`);
  }
  // Intermediate gradients live in a scope of their own; only leaf gradients are kept.
  tidy(() => noGrad(() => {
    const grads = new Map<Tensor, Tensor>();
    // An alias of the caller's gradient, so the engine owns (and may free) every tensor in `grads`.
    grads.set(root, gradient ? gradient.detach() : ones(root.shape));
    for (const t of topologicalOrder(root)) {
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      const node = t.node;
      if (!node) {
        accumulate(t, g);
        continue;
      }
      if (t.retainsGrad) accumulate(t, g.detach());
      // Each rule runs in its own scope: its temporaries are freed now, not at the end of backward.
      const inputGrads = tidy(() => node.backward(g));
      // A rule may return `g` itself or one tensor for several inputs: the first use takes it,
      // later uses take zero-copy aliases, and whatever nobody took is freed.
      const claimed = new Set<Tensor>();
      const owned = node.inputs.map((input, i) => {
        const gi = inputGrads[i];
        if (!gi || !input.requiresGrad) return null;
        if (gi.shape.length !== input.shape.length || gi.shape.some((d, k) => d !== input.shape[k])) {
          throw new Error(`backward of ${node.op}: gradient ${fmt(gi.shape)} does not match input ${fmt(input.shape)}`);
        }
        return claimed.has(gi) ? gi.detach() : (claimed.add(gi), gi);
      });
      node.inputs.forEach((input, i) => {
        const gi = owned[i];
        if (!gi) return;
        const prev = grads.get(input);
        if (prev) {
          grads.set(input, add(prev, gi));
          prev.dispose();
          gi.dispose();
        } else grads.set(input, gi);
      });
      for (const gi of new Set([g, ...inputGrads])) if (gi && !claimed.has(gi)) gi.dispose();
      if (!options.retainGraph) {
        t.node = null;
        t.freedOp = node.op;
        t.releaseSaved();
      }
    }
  }));
}

function accumulate(leaf: Tensor, g: Tensor): void {
  if (!leaf.grad) {
    leaf.grad = g.keep();
    return;
  }
  const sum = add(leaf.grad, g).keep();
  leaf.grad.dispose();
  g.dispose();
  leaf.grad = sum;
}
