// Opens a page in a real headless Chromium with WebGPU, for test/browser/ and `pnpm bench --browser`:
// bundles the page's entry for the browser and serves it (scripts/page.ts), and launches Debian's
// chromium-headless-shell through playwright-core (no browser download). Every failure to get there
// throws with the reason, so a test that needs the browser fails and says why.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { pageScript, servePage, type PageServer } from './page.ts';

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
  return browse(await servePage(script, { files: options.files }), options.viewport);
}

/** Opens what `server` serves in headless Chromium with WebGPU enabled; closing the page stops the server too. */
export async function browse(server: PageServer, viewport?: { width: number; height: number }): Promise<BrowserPage> {
  let browser: Browser | undefined;
  try {
    const executablePath = chromiumPath();
    browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS, timeout: 30_000 }).catch((e: Error) => {
      throw new Error(`${executablePath} did not start: ${e.message.split('\n')[0]}`);
    });
    const page = await browser.newPage({ viewport });
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
