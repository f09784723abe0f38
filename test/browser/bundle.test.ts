// A page's bundle of the libraries reaches no Node module and not Dawn: @sd/kernels, @sd/autograd,
// @sd/io and @sd/models/page bundle for the browser with none of them (see the #host imports in each
// package.json). The Node hosts do reach them, so the check sees what it looks for.
import { describe, expect, it } from 'vitest';
import { bundleForPage, ROOT } from '../../scripts/page.ts';

describe('page bundles', () => {
  for (const pkg of ['@sd/kernels', '@sd/autograd', '@sd/io', '@sd/models/page']) {
    it(`${pkg} imports no Node module and not 'webgpu'`, async () => {
      const { code, nodeImports } = await bundleForPage({ contents: `export * from '${pkg}';`, resolveDir: ROOT });
      expect(nodeImports, `${pkg} reaches Node-only modules`).toEqual([]);
      expect(code.length).toBeGreaterThan(10_000);
    });
  }

  it("bench/page.ts (`pnpm bench --browser`: every benchmark case) imports no Node module and not 'webgpu'", async () => {
    const { nodeImports } = await bundleForPage({ entry: 'bench/page.ts', resolveDir: ROOT });
    expect(nodeImports, 'the benchmark page reaches Node-only modules').toEqual([]);
  });

  it('the Node hosts are what a page must not get: the check finds their imports', async () => {
    const { nodeImports } = await bundleForPage({
      contents: ["export * from './packages/kernels/src/host/host.node.ts';", "export * from './packages/models/src/host.node.ts';"].join('\n'),
      resolveDir: ROOT,
    });
    const paths = nodeImports.map((i) => i.path);
    for (const p of ['webgpu', 'node:async_hooks', 'node:fs', 'node:crypto']) expect(paths).toContain(p);
    expect(nodeImports.find((i) => i.path === 'webgpu')?.importer).toBe('packages/kernels/src/host/host.node.ts');
  });
});
