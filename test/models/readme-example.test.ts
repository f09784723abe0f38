// Runs the example of packages/models/README.md exactly as written (the first ```ts block).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it, vi } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'models-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('the README prior example trains, loads and generates as written', async () => {
  const readme = readFileSync(join(root, 'packages/models/README.md'), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(block).toBeTruthy();
  // Package specifiers become paths and the run directory a temporary one; nothing else changes.
  const source = block!
    .replaceAll("from '@sd/models'", `from '${join(root, 'packages/models/src/index.ts')}'`)
    .replaceAll("from '@sd/kernels'", `from '${join(root, 'packages/kernels/src/index.ts')}'`)
    .replaceAll("'runs/example-prior'", JSON.stringify(join(dir, 'prior')));
  const file = join(dir, 'example.ts');
  writeFileSync(file, source);
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
  try {
    await import(file);
  } finally {
    log.mockRestore();
  }
  const losses = lines.filter((l) => l.startsWith('step')).map((l) => Number(/loss ([\d.]+)/.exec(l)![1]));
  expect(losses.length).toBe(4);
  expect(losses[3]).toBeLessThan(losses[0]);
  expect(lines[lines.length - 1]).toBe('generated 4 image embeddings of dimension 8');
});
