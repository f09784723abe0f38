// Runs the example of packages/models/README.md exactly as written (its run folder made temporary).
import { expect, it } from 'vitest';
import { removeDir, runReadmeExample } from '../util/readme.ts';

it('the README prior example trains, loads and generates as written', async () => {
  const { lines, dir } = await runReadmeExample('packages/models/README.md', { "'runs/example-prior'": "'$DIR/prior'" });
  removeDir(dir);
  const losses = lines.filter((l) => l.startsWith('step')).map((l) => Number(/loss ([\d.]+)/.exec(l)![1]));
  expect(losses.length).toBe(4);
  expect(losses[3]).toBeLessThan(losses[0]);
  expect(lines[lines.length - 1]).toBe('generated 4 image embeddings of dimension 8');
});

it('the README decoder example saves, loads and samples as written', async () => {
  const { lines, dir } = await runReadmeExample('packages/models/README.md', { "'runs/example-unet'": "'$DIR/unet'" }, 1);
  removeDir(dir);
  expect(lines).toEqual(['timesteps 901 801 701 601 501 401 301 201 101 1', 'image 1×3×32×32']);
});
