// `pnpm bench [kernel filters...] [--json] [--wall] [--repeats N] [--budget-ms N]`
// Runs the cases of bench/cases/ on this machine's WebGPU adapter; see bench/runner.ts.
import { initRuntime } from '@sd/kernels';
import * as suites from './cases/index.ts';
import { defaultOptions, runBench } from './runner.ts';

await initRuntime();
await runBench(Object.values(suites).flat(), defaultOptions(process.argv.slice(2)));
process.exit(0); // Dawn keeps the event loop alive
