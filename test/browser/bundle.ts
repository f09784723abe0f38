// Bundles page code with esbuild as a browser bundler would (platform 'browser': package.json's
// "browser" conditions pick the page hosts), and reports every import of a Node module or of Dawn
// ('webgpu') that the bundle reached, with the file that imported it.
import { builtinModules } from 'node:module';
import { build, type Plugin } from 'esbuild';

/** An import that a page bundle must not contain. */
export interface NodeImport {
  path: string;
  importer: string;
}

const NODE_ONLY = new RegExp(`^(node:.*|webgpu|${builtinModules.map((m) => m.replace(/[/]/g, '\\/')).join('|')})(\\/.*)?$`);

/** Bundles `entry` (or the `contents` given, resolved from `resolveDir`) to one ES module for the page. */
export async function bundleForPage(options: { entry?: string; contents?: string; resolveDir: string }): Promise<{ code: string; nodeImports: NodeImport[] }> {
  const nodeImports: NodeImport[] = [];
  // Records the Node-only imports instead of failing at the first, so a failure lists them all.
  const record: Plugin = {
    name: 'record-node-imports',
    setup(b) {
      b.onResolve({ filter: NODE_ONLY }, (args) => {
        nodeImports.push({ path: args.path, importer: args.importer.replace(`${options.resolveDir}/`, '') });
        return { path: args.path, external: true };
      });
    },
  };
  const result = await build({
    ...(options.entry ? { entryPoints: [options.entry] } : { stdin: { contents: options.contents!, resolveDir: options.resolveDir, loader: 'ts' } }),
    absWorkingDir: options.resolveDir,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    plugins: [record],
  });
  return { code: result.outputFiles[0]!.text, nodeImports };
}
