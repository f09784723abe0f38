// @sd/io as a package: its README example, no imports of other workspace packages, and the
// re-exports that keep `import { readSafetensors } from '@sd/autograd'` working.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import * as autograd from '@sd/autograd';
import * as io from '@sd/io';
import { removeDir, ROOT, runReadmeExample } from '../util/readme.ts';

it('the README example runs as written', async () => {
  const { lines, dir } = await runReadmeExample('packages/io/README.md');
  removeDir(dir);
  expect(lines).toEqual(['layer.bias F32 [2] 0.5 -0.5', 'layer.weight F16 [2, 2] 1 2 3 4', 'step 100', 'npy [1, 3]']);
});

it('imports no other workspace package (io sits beside kernels ← autograd ← models ← cli)', () => {
  const src = join(ROOT, 'packages/io/src');
  for (const file of readdirSync(src)) {
    const text = readFileSync(join(src, file), 'utf8');
    expect([...text.matchAll(/from '(@sd\/[^']+)'/g)].map((m) => m[1]), file).toEqual([]);
  }
  expect(JSON.parse(readFileSync(join(ROOT, 'packages/io/package.json'), 'utf8')).dependencies).toBeUndefined();
});

it('@sd/autograd re-exports the formats it used to define', () => {
  for (const name of ['parseSafetensorsHeader', 'readSafetensors', 'serializeSafetensors', 'writeSafetensors', 'readTorchCheckpoint', 'readTorchStateDict'] as const) {
    expect(autograd[name], name).toBe(io[name]);
  }
});
