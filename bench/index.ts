// `pnpm bench [kernel filters...] [--json] [--wall] [--repeats N] [--budget-ms N] [--browser]`
// Runs the cases of bench/cases/ on this machine's WebGPU adapter; see bench/runner.ts. --browser
// runs them in headless Chromium's WebGPU instead (SwiftShader without a GPU; bench/browser.ts) and
// prints the same rows; the other options mean the same there.
import { initRuntime } from '@sd/kernels';
import * as suites from './cases/index.ts';
import { defaultOptions, runBench } from './runner.ts';

const args = process.argv.slice(2);
try {
  if (args.includes('--browser')) {
    // Imported only here: the Node run does not load Playwright.
    const { benchInBrowser } = await import('./browser.ts');
    await benchInBrowser(args.filter((a) => a !== '--browser'));
  } else {
    await initRuntime();
    await runBench(Object.values(suites).flat(), defaultOptions(args));
  }
} catch (e) {
  // The reason alone (a stack trace of the harness would bury it).
  console.error((e as Error).message);
  process.exit(1);
}
process.exit(0); // Dawn keeps the event loop alive
