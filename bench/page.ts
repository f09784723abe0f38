// The page side of `pnpm bench --browser` (bench/browser.ts): bundled for the browser, it starts the
// runtime on the page's WebGPU and runs the same cases with the same runner as bench/index.ts. What
// the runner prints goes to the page's console (console.log: the table or JSON lines; console.error:
// failed cases and, with --json, what the cases print), which Node forwards line by line.
import { initRuntime } from '@sd/kernels';
import * as suites from './cases/index.ts';
import { adapterName, defaultOptions, runBench } from './runner.ts';

const api = {
  /**
   * Runs `pnpm bench`'s arguments (without --browser); the rows are printed, not returned. An error
   * that ends the run (e.g. the runner's "no case matches") comes back as its message, so that Node
   * can end the command with it as the Node run would.
   */
  async run(args: string[]): Promise<{ error: string | null }> {
    try {
      await runBench(Object.values(suites).flat(), defaultOptions(args));
      return { error: null };
    } catch (e) {
      return { error: (e as Error).message };
    }
  },
};
export type BenchPage = typeof api;

// Node waits for `sdBenchReady` (the adapter's name; rejected with the reason when there is no
// WebGPU) and then calls `sdBench.run`.
const page = globalThis as unknown as { sdBench: BenchPage; sdBenchReady: Promise<string> };
page.sdBench = api;
page.sdBenchReady = initRuntime().then(() => adapterName());
