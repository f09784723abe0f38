// The process-wide runtime: initialised once (async), then used synchronously by every op.
import { Runtime } from './runtime.ts';

let current: Runtime | undefined;
let pending: Promise<Runtime> | undefined;

/** Creates the shared runtime (once); await this before using any op. */
export function initRuntime(): Promise<Runtime> {
  pending ??= Runtime.create().then((rt) => (current = rt));
  return pending;
}

/** The shared runtime; throws if `initRuntime()` has not completed. */
export function rt(): Runtime {
  if (!current) throw new Error('WebGPU runtime not initialised: call `await initRuntime()` first');
  return current;
}
