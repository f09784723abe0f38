// Runs a ```ts block of a package README (the first unless told) as written, so documentation cannot drift from the
// API. The only rewrites: package specifiers become source paths (the block runs from a temporary
// directory) plus any the caller names (e.g. output folders).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, vi } from 'vitest';

export const ROOT = resolve(import.meta.dirname, '../..');

const PACKAGES = ['io', 'kernels', 'autograd', 'models'];

/** Runs the block and returns what it printed with console.log, one entry per call. */
export async function runReadmeExample(readme: string, replacements: Record<string, string> = {}, index = 0): Promise<{ lines: string[]; dir: string }> {
  const text = readFileSync(join(ROOT, readme), 'utf8');
  const block = [...text.matchAll(/```ts\n([\s\S]*?)```/g)][index]?.[1];
  expect(block, `${readme} has ts code block ${index}`).toBeTruthy();
  const dir = mkdtempSync(join(tmpdir(), 'readme-example-'));
  let source = block!;
  for (const p of PACKAGES) source = source.replaceAll(`from '@sd/${p}'`, `from '${join(ROOT, `packages/${p}/src/index.ts`)}'`);
  for (const [from, to] of Object.entries(replacements)) source = source.replaceAll(from, to.replaceAll('$DIR', dir));
  const file = join(dir, 'example.ts');
  writeFileSync(file, source);
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
  try {
    await import(file);
  } finally {
    log.mockRestore();
  }
  return { lines, dir };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
