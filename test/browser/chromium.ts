// Opens a page in a real headless Chromium with WebGPU: bundles the page's entry for the browser
// (refusing a bundle that reaches a Node module or Dawn), serves it from a small HTTP server on
// localhost (WebGPU needs a secure context, which localhost is), and launches Debian's
// chromium-headless-shell through playwright-core (no browser download). Every failure to get
// there throws with the reason, so a test that needs the browser fails and says why.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { bundleForPage } from './bundle.ts';

/** The repository (without util/readme.ts, which needs vitest: these helpers also serve `pnpm demo`). */
export const ROOT = resolve(import.meta.dirname, '../..');

/**
 * Chromium's flags. `--enable-unsafe-webgpu`: WebGPU is off by default on Linux; this is the only
 * flag needed. Without a GPU, Chromium's GPU process then offers its bundled SwiftShader Vulkan as a
 * fallback adapter (vendor "google", architecture "swiftshader", 4-lane subgroups, no shader-f16).
 * Lavapipe (the system's Mesa Vulkan, which the Node tests use through Dawn) was not reachable:
 * --enable-features=Vulkan, --use-vulkan=native, --use-angle=vulkan, --ignore-gpu-blocklist,
 * --disable-gpu-sandbox and VK_ICD_FILENAMES=…/lvp_icd.json still gave SwiftShader (Chromium 156).
 */
export const CHROMIUM_FLAGS = ['--enable-unsafe-webgpu'];

/** Where Debian's chromium-headless-shell package puts the browser; SD_CHROMIUM overrides. */
export function chromiumPath(): string {
  const candidates = process.env.SD_CHROMIUM ? [process.env.SD_CHROMIUM] : ['/usr/bin/chromium-headless-shell', '/usr/lib/chromium/chromium-headless-shell'];
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `chromium-headless-shell not found (looked for ${candidates.join(', ')}). Install it with ` +
        '`apt-get install -y chromium-headless-shell` as root (bash scripts/setup.sh does), or set SD_CHROMIUM to a Chromium binary.',
    );
  }
  return found;
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
export async function servePage(script: string, options: { title?: string; files?: [string, string][]; html?: string } = {}): Promise<PageServer> {
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
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
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

export interface BrowserPage {
  page: Page;
  url: string;
  /** Uncaught errors and console.error lines of the page so far. */
  errors: string[];
  close(): Promise<void>;
}

/** Serves the bundle of `entry` and opens it in headless Chromium with WebGPU enabled. */
export async function openPage(entry: string, options: { files?: [string, string][]; viewport?: { width: number; height: number } } = {}): Promise<BrowserPage> {
  const script = await pageScript(entry);
  const executablePath = chromiumPath();
  const server = await servePage(script, { files: options.files });
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS, timeout: 30_000 }).catch((e: Error) => {
      throw new Error(`${executablePath} did not start: ${e.message.split('\n')[0]}`);
    });
    const page = await browser.newPage({ viewport: options.viewport });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('console', (m) => void (m.type() === 'error' && errors.push(`console.error: ${m.text()}`)));
    await page.goto(server.url);
    const b = browser;
    return { page, url: server.url, errors, close: async () => (await b.close(), await server.close()) };
  } catch (e) {
    await browser?.close();
    await server.close();
    throw e;
  }
}

/**
 * Waits for the page's `name` global (a promise the entry sets) and returns what it resolves to;
 * the page's errors are added to any failure, so a module that failed to load says why.
 */
export async function pageReady<T>(p: BrowserPage, name: string, timeoutMs = 60_000): Promise<T> {
  try {
    await p.page.waitForFunction((n) => n in globalThis, name, { timeout: timeoutMs });
    return (await p.page.evaluate((n) => (globalThis as Record<string, unknown>)[n], name)) as T;
  } catch (e) {
    const seen = p.errors.length > 0 ? ` (the page reported: ${p.errors.join('; ')})` : '';
    throw new Error(`the page at ${p.url} did not get ready: ${(e as Error).message.split('\n')[0]}${seen}`);
  }
}
