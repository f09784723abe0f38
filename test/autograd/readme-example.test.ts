// Runs the training example of packages/autograd/README.md exactly as written.
import { expect, it } from 'vitest';
import { removeDir, runReadmeExample } from '../util/readme.ts';

it('the README training example runs as written and its loss falls', async () => {
  const { lines, dir } = await runReadmeExample('packages/autograd/README.md');
  removeDir(dir);
  const losses = lines.map((l) => Number(/loss ([\d.]+)/.exec(l)?.[1]));
  expect(lines.length).toBe(4);
  expect(losses.every(Number.isFinite)).toBe(true);
  expect(losses[0]).toBeGreaterThan(0.1);
  expect(losses[3]).toBeLessThan(2e-3);
});

it('the README recorded-step example runs as written and its loss falls', async () => {
  const { lines, dir } = await runReadmeExample('packages/autograd/README.md', {}, 2);
  removeDir(dir);
  const losses = lines.map((l) => Number(/loss ([\d.]+)/.exec(l)?.[1]));
  expect(lines.length).toBe(3);
  expect(losses.every(Number.isFinite)).toBe(true);
  expect(losses[2]).toBeLessThan(1e-3);
});
