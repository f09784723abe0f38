// Pages of the libraries, for the browser tests (test/browser/) and `pnpm demo`: bundles a page entry
// with esbuild as a browser bundler would (platform 'browser': package.json's "browser" conditions
// pick the page hosts), refusing a bundle that reaches a Node module or Dawn ('webgpu'), and serves
// it from a small HTTP server on localhost (WebGPU needs a secure context, which localhost is).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { builtinModules } from 'node:module';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { build, type Plugin } from 'esbuild';

/** The repository. */
export const ROOT = resolve(import.meta.dirname, '..');

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

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.json': 'application/json', '.html': 'text/html', '.safetensors': 'application/octet-stream' };

export interface PageServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `html` at /, `script` at /page.js, and for each `[prefix, dir]` of `files` the files under
 * `dir` at /prefix/… (no listing, nothing outside `dir`).
 */
export async function servePage(script: string, options: { title?: string; files?: [string, string][]; html?: string; port?: number } = {}): Promise<PageServer> {
  const html = options.html ?? `<!doctype html><meta charset="utf-8"><title>${options.title ?? 'sd'}</title><body><script type="module" src="/page.js"></script>`;
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    if (path === '/') return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    if (path === '/page.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    for (const [prefix, dir] of options.files ?? []) {
      if (!path.startsWith(`/${prefix}/`)) continue;
      const file = normalize(join(dir, path.slice(prefix.length + 2)));
      if (file.startsWith(normalize(dir) + sep) && existsSync(file) && statSync(file).isFile()) {
        return void res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
      }
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}`);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://localhost:${port}/`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Bundles `entry` (a path under the repository) for the page; a bundle that reaches Node modules or Dawn is refused, naming them. */
export async function pageScript(entry: string): Promise<string> {
  const { code, nodeImports } = await bundleForPage({ entry, resolveDir: ROOT });
  if (nodeImports.length > 0) {
    throw new Error(`${entry}: the page bundle imports Node-only modules: ${nodeImports.map((i) => `${i.path} (from ${i.importer})`).join(', ')}`);
  }
  return code;
}
