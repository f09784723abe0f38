// The example of packages/kernels/README.md, checked against the same computation in float64.
import { expect, it } from 'vitest';
import { DeviceArray, matmul, softmax } from '@sd/kernels';
import { expectClose } from '../util/close.ts';

it('the README example computes softmax(a·b)', async () => {
  const a = DeviceArray.from([1, 2, 3, 4, 5, 6], [2, 3]);
  const b = DeviceArray.from([1, 0, 0, 1, 1, 1], [3, 2]);
  const logits = matmul(a, b);
  const y = softmax(logits);
  const rows = [[4, 5], [10, 11]];
  const expected = rows.flatMap(([p, q]) => [Math.exp(p) / (Math.exp(p) + Math.exp(q)), Math.exp(q) / (Math.exp(p) + Math.exp(q))]);
  expectClose(await y.toArray(), expected);
  for (const t of [a, b, logits, y]) t.dispose();
  expect(y.disposed).toBe(true);
});
