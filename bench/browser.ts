// `pnpm bench --browser`: the benchmark in headless Chromium's WebGPU (bench/page.ts runs the same
// cases with the same runner), with the page's output printed here as the Node run prints it: the
// runner's console.log lines on stdout, its console.error lines on stderr. In Chromium without a GPU
// the adapter is SwiftShader (see scripts/chromium.ts), which the runner's adapter line and every
// JSON row name ("[swiftshader]").
import { chromiumPath, openPage, pageReady } from '../scripts/chromium.ts';
import type { BenchPage } from './page.ts';
import { parseArgs } from './runner.ts';

/**
 * Runs `pnpm bench`'s arguments (without --browser) in the page. Throws, with the reason, when the
 * page gets no WebGPU, raises an error or crashes, or when the runner refuses the arguments.
 */
export async function benchInBrowser(args: string[]): Promise<void> {
  const { json } = parseArgs(args); // an unknown option fails here, before Chromium starts
  const browser = await openPage('bench/page.ts');
  try {
    const { page } = browser;
    // A whole benchmark runs for many minutes inside one evaluate: no Playwright timeout may end it.
    page.setDefaultTimeout(0);
    page.on('console', (m) => (m.type() === 'log' ? process.stdout : process.stderr).write(`${m.text()}\n`));
    const ended = new Promise<never>((_, reject) => {
      page.on('pageerror', (e) => reject(new Error(`bench --browser: the page raised an error: ${e.message}`)));
      page.on('crash', () => reject(new Error('bench --browser: the page crashed')));
    });
    ended.catch(() => undefined); // it only ever settles as a rejection, which the race below reports
    await pageReady(browser, 'sdBenchReady');
    if (!json) console.log(`browser: Chromium ${page.context().browser()?.version() ?? ''} (${chromiumPath()}), WebGPU in the page`);
    const run = page.evaluate((a) => (globalThis as unknown as { sdBench: BenchPage }).sdBench.run(a), args);
    run.catch(() => undefined); // after a page error, closing the page rejects it too; the race reports the first
    const { error } = await Promise.race([run, ended]);
    if (error) throw new Error(error);
  } finally {
    await browser.close();
  }
}
