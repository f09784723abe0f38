// Runs the training example of packages/autograd/README.md exactly as written (the first ```ts
// block), so the documentation cannot drift from the API.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it, vi } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'readme-example-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('the README training example runs as written and its loss falls', async () => {
  const readme = readFileSync(join(root, 'packages/autograd/README.md'), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(block, 'README has a ts code block').toBeTruthy();
  // The only change: package specifiers become paths, since the file runs from a temporary directory.
  const source = block!
    .replaceAll("from '@sd/autograd'", `from '${join(root, 'packages/autograd/src/index.ts')}'`)
    .replaceAll("from '@sd/kernels'", `from '${join(root, 'packages/kernels/src/index.ts')}'`);
  const file = join(dir, 'example.ts');
  writeFileSync(file, source);

  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
  try {
    await import(file);
  } finally {
    log.mockRestore();
  }
  const losses = lines.map((l) => Number(/loss ([\d.]+)/.exec(l)?.[1]));
  expect(lines.length).toBe(4);
  expect(losses.every(Number.isFinite)).toBe(true);
  expect(losses[0]).toBeGreaterThan(0.1);
  expect(losses[3]).toBeLessThan(2e-3);
});
